//! # mfn-cli — the machinery behind the `mfn` binary
//!
//! The binary (`src/main.rs`) only parses flags and dispatches; everything it calls
//! lives here so that tests can reach it too:
//!
//! | module | does |
//! |---|---|
//! | [`commands`] | one module per verb: flags (clap derive) → an operation of the service layer → a serialisable report |
//! | [`local`] | the service layer in process, with `mfn serve`'s defaults and limits |
//! | [`output`] | renders a report as JSON (the contract other tools parse) or as a key/value table |
//! | [`input`] | input files as service uploads (`.npy`, `.csv`, PNG), fields written as `.npy` |
//! | [`heatmap`] | draws a field as a PNG heatmap with a colour bar |
//! | [`remote`] | the same verbs against a server (`--remote URL`) through `mfn-client` |
//!
//! Errors are `anyhow` errors whose one-line rendering (`{:#}`) names the flag or input
//! at fault and the limit it broke; the binary prints them as `error: ...` and exits 2.

pub mod commands;
pub mod heatmap;
pub mod input;
pub mod local;
pub mod output;
pub mod remote;
