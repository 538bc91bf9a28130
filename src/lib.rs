//! flightdeck: a terminal release cockpit.
//!
//! Sources → poller → one app loop owning the state → pure rendering; the
//! same analysis serves the cockpit and the headless commands.

pub mod analysis;
pub mod app;
pub mod changes;
mod changes_cli;
pub mod checklist;
mod children;
pub mod cli;
pub mod config;
mod demo;
pub mod engine;
pub mod journal;
mod logging;
pub mod model;
pub mod notify;
pub mod poller;
pub mod report;
pub mod sanitize;
pub mod setup;
pub mod sources;
mod team_cli;
pub mod ui;
