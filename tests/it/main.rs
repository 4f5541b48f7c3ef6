//! The integration tests, as one test binary (one link of the library instead of one per file).
//! Each module is the former test file of the same name; `common` and `soak_support` are shared.

mod common;
mod soak_support;

mod checks_real_data;
mod checks_shape;
mod crash_soak;
mod e2e_checks;
mod e2e_hostile;
mod e2e_run;
mod e2e_secrets;
mod e2e_shared_data;
mod e2e_sources;
mod hostile_input;
mod identity_checks;
mod identity_eval;
mod layering;
mod model_client;
mod model_pacing;
mod overlap;
mod prompt_render;
mod publish_archive;
mod publish_run;
mod publish_site;
mod publish_webhooks;
mod render_digest;
mod render_report;
mod review_cli;
mod soak;
mod source_arxiv;
mod source_errors;
mod source_file;
mod source_hf;
mod source_shared_data;
mod store_concurrent_open;
mod store_db;
mod store_review;
mod summarize_stage;
mod web_browser;
mod web_routes;
mod web_support;
