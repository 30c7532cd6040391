//! `xl top`'s terminal UI (ratatui): xentop's screen and keys.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TLine, Span};
use ratatui::widgets::Paragraph;
use xl_toolstack::stats::Sample;

use crate::Status;
use crate::commands::sanitize;
use crate::commands::top::{self, FIELDS, Line, Source, View};

pub fn is_terminal() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// The delay prompt being typed, if any.
#[derive(Default)]
pub struct Prompt {
    pub active: bool,
    pub value: String,
}

pub struct Screen {
    pub view: View,
    pub delay: u32,
    pub prompt: Prompt,
}

fn table_line(l: &Line, sort: usize) -> TLine<'static> {
    let cells = match l {
        Line::Detail(s) => return TLine::raw(sanitize(s)),
        Line::Header(c) | Line::Domain(c) => c,
    };
    let header = matches!(l, Line::Header(_));
    let base = if header {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default()
    };
    let mut spans = Vec::with_capacity(cells.len() * 2);
    for (i, c) in cells.iter().enumerate() {
        if i != 0 {
            spans.push(Span::styled(" ", base));
        }
        let style = if i == sort {
            base.add_modifier(Modifier::BOLD)
        } else {
            base
        };
        spans.push(Span::styled(sanitize(c), style));
    }
    TLine::from(spans)
}

fn bottom_line(s: &Screen) -> TLine<'static> {
    if s.prompt.active {
        return TLine::raw(format!("  Delay(sec): {}", sanitize(&s.prompt.value)));
    }
    let key = Style::default().add_modifier(Modifier::REVERSED);
    let on = |b: bool| {
        if b {
            Style::default().bg(Color::Yellow)
        } else {
            Style::default()
        }
    };
    let v = &s.view;
    TLine::from(vec![
        Span::raw("  "),
        Span::styled("D", key),
        Span::raw("elay  "),
        Span::styled("N", key),
        Span::styled("etworks", on(v.networks)),
        Span::raw("  "),
        Span::styled("v", on(v.vbds)),
        Span::styled("B", key),
        Span::styled("ds", on(v.vbds)),
        Span::raw("  "),
        Span::styled("V", key),
        Span::styled("CPUs", on(v.vcpus)),
        Span::raw("  "),
        Span::styled("R", key),
        Span::styled("epeat header", on(v.repeat_header)),
        Span::raw("  "),
        Span::styled("S", key),
        Span::raw(format!("ort order ({})  ", FIELDS[v.sort].0)),
        Span::styled("Q", key),
        Span::raw("uit"),
    ])
}

/// Draw one screen: summary, the table (as much as fits), the key line.
pub fn render(f: &mut Frame, s: &Screen, cur: &Sample, prev: Option<&Sample>, clock: &str) {
    let area = f.area();
    let mut lines: Vec<TLine> = top::summary(cur, clock)
        .into_iter()
        .map(TLine::raw)
        .collect();
    for l in top::table(&s.view, cur, prev) {
        match &l {
            Line::Detail(text) => lines.extend(text.split('\n').map(|t| TLine::raw(sanitize(t)))),
            _ => lines.push(table_line(&l, s.view.sort)),
        }
    }
    let body = area.height.saturating_sub(1);
    lines.truncate(usize::from(body));
    f.render_widget(
        Paragraph::new(lines),
        Rect {
            height: body,
            ..area
        },
    );
    if area.height > 0 {
        f.render_widget(
            Paragraph::new(bottom_line(s)),
            Rect {
                y: area.y + area.height - 1,
                height: 1,
                ..area
            },
        );
    }
}

/// What a key does; false to quit.
pub fn handle_key(s: &mut Screen, k: KeyEvent) -> bool {
    if s.prompt.active {
        match k.code {
            KeyCode::Enter => {
                let d = s.prompt.value.trim().parse::<i64>().unwrap_or(0);
                if d > 0 {
                    s.delay = d.min(i64::from(u32::MAX)) as u32;
                }
                s.prompt = Prompt::default();
            }
            KeyCode::Esc => s.prompt = Prompt::default(),
            KeyCode::Backspace => {
                s.prompt.value.pop();
            }
            KeyCode::Char(c) if !c.is_control() && s.prompt.value.len() < 79 => {
                s.prompt.value.push(c)
            }
            _ => {}
        }
        return true;
    }
    let v = &mut s.view;
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        // Ctrl-C quits (raw mode turns it into a key); other chords are
        // not xentop's letters.
        return k.code != KeyCode::Char('c');
    }
    match k.code {
        KeyCode::Char('n' | 'N') => v.networks ^= true,
        KeyCode::Char('b' | 'B') => v.vbds ^= true,
        KeyCode::Char('r' | 'R') => v.repeat_header ^= true,
        KeyCode::Char('s' | 'S') => v.sort = (v.sort + 1) % FIELDS.len(),
        KeyCode::Char('v' | 'V') => v.vcpus ^= true,
        KeyCode::Down => v.first += 1,
        KeyCode::Up => v.first = v.first.saturating_sub(1),
        KeyCode::Char('d' | 'D') => {
            s.prompt = Prompt {
                active: true,
                value: String::new(),
            }
        }
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => return false,
        _ => {}
    }
    true
}

pub fn run(src: &Source, view: View, delay: u32, iterations: Option<u32>) -> Status {
    let mut terminal = ratatui::init();
    let status = run_loop(&mut terminal, src, view, delay, iterations);
    ratatui::restore();
    match status {
        Ok(()) => 0,
        Err(msg) => {
            crate::commands::err(&format!("xl top: {msg}\n"));
            1
        }
    }
}

fn run_loop(
    terminal: &mut ratatui::DefaultTerminal,
    src: &Source,
    view: View,
    delay: u32,
    mut iterations: Option<u32>,
) -> Result<(), String> {
    let mut s = Screen {
        view,
        delay,
        prompt: Prompt::default(),
    };
    let mut prev: Option<Sample> = None;
    let mut last: Option<Instant> = None;
    let mut key = true;
    loop {
        let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(u64::from(s.delay)));
        if key || due {
            let cur = src.sample(s.view.vcpus).map_err(|e| e.to_string())?;
            // Keep the first line on screen when scrolled past the end.
            s.view.first = s.view.first.min(cur.domains.len().saturating_sub(1));
            let clock = chrono::Local::now().format("%H:%M:%S").to_string();
            terminal
                .draw(|f| render(f, &s, &cur, prev.as_ref(), &clock))
                .map_err(|e| e.to_string())?;
            if due {
                last = Some(Instant::now());
            }
            prev = Some(cur);
            if let Some(n) = iterations.as_mut() {
                *n = n.wrapping_sub(1);
                if *n == 0 {
                    return Ok(());
                }
            }
        }
        key = false;
        // xentop waits half a second for a key between updates.
        if event::poll(Duration::from_millis(500)).map_err(|e| e.to_string())? {
            match event::read().map_err(|e| e.to_string())? {
                Event::Key(k) if k.kind == KeyEventKind::Press => {
                    if k.code == KeyCode::Char('l') && k.modifiers.contains(KeyModifiers::CONTROL) {
                        terminal.clear().map_err(|e| e.to_string())?;
                    } else if !handle_key(&mut s, k) {
                        return Ok(());
                    }
                    key = true;
                }
                Event::Resize(..) => key = true,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use std::time::SystemTime;
    use xl_toolstack::DomInfo;
    use xl_toolstack::stats::DomainSample;

    fn sample(n: u32) -> Sample {
        Sample {
            taken: SystemTime::UNIX_EPOCH,
            xen_version: "4.17.5".into(),
            tot_mem: 4 << 30,
            free_mem: 2 << 30,
            num_cpus: 4,
            cpu_hz: 3_000_000_000,
            domains: (0..n)
                .map(|i| DomainSample {
                    info: DomInfo {
                        domid: i,
                        current_memkb: 262144,
                        max_memkb: 263168,
                        running: true,
                        ..DomInfo::default()
                    },
                    name: if i == 0 {
                        "Domain-0".into()
                    } else {
                        format!("g\x1b{i}")
                    },
                    vcpus: Vec::new(),
                    nets: Vec::new(),
                    vbds: Vec::new(),
                })
                .collect(),
        }
    }

    fn screen_text(s: &Screen, cur: &Sample, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(190, h)).unwrap();
        t.draw(|f| render(f, s, cur, None, "10:00:00")).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| {
                (0..190)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn screen_has_summary_table_and_keys() {
        let s = Screen {
            view: View::default(),
            delay: 3,
            prompt: Prompt::default(),
        };
        let lines = screen_text(&s, &sample(3), 10);
        assert_eq!(lines[0], "xl top - 10:00:00   Xen 4.17.5");
        assert!(lines[1].starts_with("3 domains: 3 running"));
        assert!(lines[3].starts_with("      NAME  STATE"));
        assert!(lines[4].starts_with("  Domain-0 -----r"));
        // Control characters in names do not reach the terminal.
        assert!(lines[5].starts_with("       g?1 -----r"), "{}", lines[5]);
        assert!(
            lines[9].starts_with(
                "  Delay  Networks  vBds  VCPUs  Repeat header  Sort order (NAME)  Quit"
            )
        );
    }

    #[test]
    fn table_is_cut_to_the_screen() {
        let s = Screen {
            view: View::default(),
            delay: 3,
            prompt: Prompt::default(),
        };
        let lines = screen_text(&s, &sample(20), 8);
        assert!(lines[6].starts_with("      g?10"), "{lines:?}");
        assert!(lines[7].starts_with("  Delay"));
    }

    #[test]
    fn keys_toggle_sort_and_prompt() {
        let mut s = Screen {
            view: View::default(),
            delay: 3,
            prompt: Prompt::default(),
        };
        let k = |c| KeyEvent::new(c, KeyModifiers::NONE);
        assert!(handle_key(&mut s, k(KeyCode::Char('n'))));
        assert!(s.view.networks);
        handle_key(&mut s, k(KeyCode::Char('s')));
        assert_eq!(s.view.sort, 1);
        handle_key(&mut s, k(KeyCode::Char('d')));
        for c in "7".chars() {
            handle_key(&mut s, k(KeyCode::Char(c)));
        }
        let lines = screen_text(&s, &sample(1), 6);
        assert_eq!(lines[5], "  Delay(sec): 7");
        handle_key(&mut s, k(KeyCode::Enter));
        assert_eq!(s.delay, 7);
        handle_key(&mut s, k(KeyCode::Char('d')));
        handle_key(&mut s, k(KeyCode::Char('0')));
        handle_key(&mut s, k(KeyCode::Enter));
        assert_eq!(s.delay, 7, "a delay must be positive");
        assert!(!handle_key(&mut s, k(KeyCode::Char('q'))));
        assert!(!handle_key(
            &mut s,
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
        ));
        // Ctrl-D is not D.
        assert!(handle_key(
            &mut s,
            KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL)
        ));
        assert!(!s.prompt.active);
    }
}
