//! paper-digest: new research papers in, a checked three-part Korean digest out.
//!
//! The modules follow the pipeline, and data flows one way through them:
//! [`source`] → [`prompt`] → [`model`] → [`checks`] → [`store`] → [`render`],
//! with [`pipeline`] driving one run and [`config`] / [`cli`] turning user input into typed settings.

pub mod paper;

pub mod source;

pub mod prompt;

pub mod model;

pub mod checks;

pub mod store;

pub mod render;

pub mod pipeline;

pub mod config;

pub mod cli;

pub mod logging;

pub mod lint;

pub mod app;
