//! paper-digest: new research papers in, a checked three-part Korean digest out.
//!
//! Layers, lowest first; a module uses only the ones before it (`tests/it/layering.rs` checks it):
//! - [`paper`] (the domain types every stage shares) and [`logging`];
//! - what the stages use: [`source`], [`prompt`], [`model`], [`checks`], [`store`], [`render`], and
//!   [`publish`] (the publishing targets and the alert);
//! - [`pipeline`]: the stages of a run, fetch → select → summarize → record → publish;
//! - [`review`]: a person's decisions on summaries (approve, reject, edit, re-summarize), and
//!   [`web`]: the review web page and its JSON API over the same store;
//! - [`settings`]: the config read once into the types the stages take;
//! - [`cli`] and [`app`]: the commands and their exit codes, under a thin `main.rs`.

pub mod paper;

pub mod logging;

pub mod source;

pub mod prompt;

pub mod model;

pub mod checks;

pub mod store;

pub mod render;

pub mod publish;

pub mod pipeline;

pub mod review;

pub mod web;

pub mod settings;

pub mod cli;

pub mod app;
