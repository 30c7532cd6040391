//! `vnuma=[[...], ...]`: the guest's virtual NUMA nodes, one list of
//! `key=value` strings per node, as xl 4.17 reads them.

use crate::json::{Json, Obj};
use crate::report::Report;
use crate::value::strtoul;

/// One virtual node (`libxl_vnode_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VnodeInfo {
    /// Memory of the node in KiB (`size=` is in MiB).
    pub memkb: u64,
    /// Distance to each node, this one included.
    pub distances: Vec<u32>,
    /// The host node it is placed on.
    pub pnode: u32,
    /// The guest's vCPUs in this node.
    pub vcpus: Vec<u32>,
}

impl VnodeInfo {
    /// A node of `nodes` with nothing set: libxl's initial values.
    pub fn new(nodes: usize) -> VnodeInfo {
        VnodeInfo {
            memkb: u64::MAX,
            distances: vec![0; nodes],
            pnode: 0,
            vcpus: Vec::new(),
        }
    }

    /// The node as libxl's JSON generator prints it.
    pub fn to_json(&self) -> Json {
        let o = if self.memkb == u64::MAX {
            Obj::new()
        } else {
            Obj::new().field("memkb", Json::UInt(self.memkb))
        };
        let o = if self.distances.is_empty() {
            o
        } else {
            o.field(
                "distances",
                Json::Arr(
                    self.distances
                        .iter()
                        .map(|d| Json::UInt(u64::from(*d)))
                        .collect(),
                ),
            )
        };
        o.nonzero_u("pnode", u64::from(self.pnode))
            .bitmap("vcpus", &self.vcpus)
            .build()
    }
}

/// The spec was refused; the message is in the report (xl exits 1).
#[derive(Debug, PartialEq, Eq)]
pub struct Refused;

/// What the node specs add up to, checked against `maxvcpus`/`maxmem`.
#[derive(Debug, Default)]
pub struct Totals {
    /// vCPUs over all nodes (`vcpus=`).
    pub vcpus: u64,
    /// Memory over all nodes, in KiB (`size=`).
    pub memkb: u64,
    /// A `pnode=` was given: automatic NUMA placement is off.
    pub pinned: bool,
}

/// xl's `parse_ulong`, refusing the spec on failure.
fn parse_ulong(s: &str, r: &mut Report) -> Result<u64, Refused> {
    crate::nic::parse_ulong(s, r).map_err(|()| Refused)
}

/// xl's `parse_range` (`N` or `N-M`), whose failure vnuma ignores: the
/// range is then whatever was read of it.
fn range(s: &str) -> (u64, u64) {
    let (a, used, _) = strtoul(s.as_bytes(), 10);
    if used == 0 || a == u64::MAX {
        return (a, a);
    }
    match s[used..].strip_prefix('-') {
        Some(rest) => {
            let (b, used2, _) = strtoul(rest.as_bytes(), 10);
            if used2 == 0 || b == u64::MAX || b < a {
                // xl leaves the end at what strtoul returned.
                (a, if used2 == 0 { 0 } else { b })
            } else {
                (a, b)
            }
        }
        None => (a, a),
    }
}

/// One `key=value` of a node. `nr_nodes` bounds `pnode`; `bitmap_bits`
/// is the width of the vCPU bitmap (vCPUs beyond it count but are not set,
/// as in libxl).
pub fn node_option(
    node: &mut VnodeInfo,
    totals: &mut Totals,
    item: &str,
    nr_nodes: u32,
    bitmap_bits: u64,
    r: &mut Report,
) -> Result<(), Refused> {
    let mut parts = item.split('=').filter(|p| !p.is_empty());
    let (Some(option), Some(value)) = (parts.next(), parts.next()) else {
        r.line(format!("xl: failed to split \"{item}\" into pair"));
        return Err(Refused);
    };
    let (option, value) = (option.trim(), value.trim());
    match option {
        "pnode" => {
            let v = parse_ulong(value, r)?;
            if v >= u64::from(nr_nodes) {
                r.line(format!("xl: invalid pnode number: {v}"));
                return Err(Refused);
            }
            node.pnode = v as u32;
            totals.pinned = true;
        }
        "size" => {
            let v = parse_ulong(value, r)?;
            node.memkb = v << 10;
            totals.memkb = totals.memkb.wrapping_add(node.memkb);
        }
        "vcpus" => {
            for spec in value.split(',').filter(|s| !s.is_empty()) {
                let (s, e) = range(spec);
                if s > e {
                    continue;
                }
                totals.vcpus = totals.vcpus.saturating_add(e - s + 1);
                // Only bits inside the bitmap are set; the loop is bounded
                // by its width, not by the range.
                for bit in s..=e.min(bitmap_bits.saturating_sub(1)) {
                    if bit < bitmap_bits && !node.vcpus.contains(&(bit as u32)) {
                        node.vcpus.push(bit as u32);
                    }
                }
            }
            node.vcpus.sort_unstable();
        }
        "vdistances" => {
            let dists: Vec<&str> = value.split(',').filter(|s| !s.is_empty()).collect();
            for (j, d) in dists.iter().enumerate() {
                let v = parse_ulong(d, r)?;
                // xl writes past the array for extra distances; they are
                // dropped here.
                if let Some(slot) = node.distances.get_mut(j) {
                    *slot = v as u32;
                }
            }
        }
        _ => {}
    }
    Ok(())
}
