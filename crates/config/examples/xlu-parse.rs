//! Debugging aid: parse an xl.cfg like libxlu and dump chosen keys.
//! `cargo run -p xl-config --example xlu-parse -- FILE SOURCE [KEY...]`
//! prints libxlu's messages on stderr and `key=S[..]` / `key=L<n>[a|b]` /
//! `key=absent` lines on stdout, for differential checks against libxlutil.

use xl_config::Report;
use xl_config::value::{Config, Value};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = std::fs::read(&args[0]).expect("readable file");
    let text = String::from_utf8_lossy(&data);
    let source = args.get(1).cloned().unwrap_or_else(|| args[0].clone());
    let mut r = Report::new();
    let parsed = xl_config::syntax::parse(&text, &source, &mut r);
    eprint!("{}", r.as_str());
    if !parsed.ok {
        eprintln!("Failed to parse config: Invalid argument");
        std::process::exit(1);
    }
    let cfg = Config::new(source, parsed.settings);
    for k in args.iter().skip(2) {
        match cfg.find(k).map(|s| &s.value) {
            Some(Value::Str(s)) => println!("{k}=S[{s}]"),
            Some(Value::List(l)) => {
                let items: Vec<&str> = l.iter().map(|v| v.as_str().unwrap_or("<list>")).collect();
                println!("{k}=L{}[{}]", l.len(), items.join("|"));
            }
            None => println!("{k}=absent"),
        }
    }
}
