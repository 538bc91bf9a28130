//! Logs go to a file in the state (or data) dir, never to the screen.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Start logging to `dir/flightdeck.log`. Keep the guard alive: dropping it
/// flushes and stops the writer. Returns the log file's path.
pub fn init(dir: &Path, filter: Option<&str>) -> std::io::Result<(WorkerGuard, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let appender = tracing_appender::rolling::never(dir, "flightdeck.log");
    // 4,096 lines in flight, not the default 128,000: the channel's slots
    // are allocated whole (4 MB of a 6,000-cell cockpit's memory); lines
    // past a full channel are dropped, never waited for.
    let (writer, guard) =
        tracing_appender::non_blocking::NonBlockingBuilder::default().buffered_lines_limit(4096).finish(appender);
    let filter = EnvFilter::try_new(filter.unwrap_or("info")).unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_env_filter(filter).try_init();
    Ok((guard, dir.join("flightdeck.log")))
}
