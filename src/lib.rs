//! flightdeck: a terminal release cockpit.
//!
//! Sources → poller → one app loop owning the state → pure rendering; the
//! same analysis serves the cockpit and the headless commands.

pub mod analysis;
pub mod app;
pub mod checklist;
pub mod children;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod journal;
pub mod logging;
pub mod model;
pub mod poller;
pub mod report;
pub mod sanitize;
pub mod setup;
pub mod sources;
pub mod team_cli;
pub mod ui;
