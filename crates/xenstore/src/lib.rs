//! Xenstore in pure Rust: the wire protocol ([`wire`]), a client ([`Xs`])
//! that talks to xenstored over its unix socket or `/dev/xen/xenbus` (found
//! the way libxenstore finds them, `XENSTORED_PATH` included), and an
//! in-process daemon ([`Daemon`]) speaking the same protocol, which the
//! real `xenstore-*` tools can drive.
//!
//! What it is not: the daemon does not talk to guests over shared rings
//! and event channels (guests are simulated with [`Daemon::connect_as`]),
//! enforces no quotas, persists nothing by itself (see
//! [`Daemon::snapshot`]) and answers `CONTROL` with `ENOSYS`. The client
//! implements neither the ring transport nor libxenstore's C API.
//!
//! ```no_run
//! use xenstore::{Xs, XsOps};
//!
//! let xs = Xs::open()?;
//! let name = xs.read("/local/domain/1/name")?;
//! xs.transaction(|tx| tx.write("/local/domain/1/memory/target", "524288"))?;
//! # Ok::<(), xenstore::Error>(())
//! ```

#![warn(missing_docs)]

pub mod client;
pub mod daemon;
pub mod wire;

pub use client::{Batch, Error, Transaction, Transport, WatchEvent, Xs, XsOps, default_paths};
pub use daemon::{Daemon, Server, SnapshotError};
pub use wire::{Access, Errno, Op, Perm};
