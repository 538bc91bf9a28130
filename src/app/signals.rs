//! The signals that end the cockpit (and the headless commands): SIGINT,
//! SIGTERM, SIGHUP and SIGQUIT. Each is caught, so the way out is the same
//! as `q`: leave the loop, restore the terminal, end the programs started
//! for `command` sources, then exit with 128 + the signal's number.

use anyhow::Context;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The signals a person or a supervisor sends to end a program.
pub(crate) struct Signals {
    caught: Vec<(i32, &'static str, Signal)>,
}

impl Signals {
    /// Install the handlers (before the terminal is touched: a signal that
    /// arrives during start-up is then handled, not fatal).
    pub fn install() -> anyhow::Result<Signals> {
        let kinds = [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
            (SignalKind::quit(), "SIGQUIT"),
        ];
        let caught = kinds
            .into_iter()
            .map(|(kind, name)| {
                signal(kind)
                    .map(|s| (kind.as_raw_value(), name, s))
                    .with_context(|| format!("installing the {name} handler"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Signals { caught })
    }

    /// The next signal to arrive: its number and name.
    pub async fn recv(&mut self) -> (i32, &'static str) {
        let waits = self.caught.iter_mut().map(|(number, name, signal)| {
            let (number, name) = (*number, *name);
            Box::pin(async move {
                signal.recv().await;
                (number, name)
            })
        });
        futures::future::select_all(waits).await.0
    }
}

/// The exit status for a program ended by `signal`: 128 + its number.
pub(crate) fn exit_status(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_follows_the_shell_convention() {
        assert_eq!(exit_status(SignalKind::interrupt().as_raw_value()), 130);
        assert_eq!(exit_status(SignalKind::hangup().as_raw_value()), 129);
        assert_eq!(exit_status(SignalKind::quit().as_raw_value()), 131);
        assert_eq!(exit_status(SignalKind::terminate().as_raw_value()), 143);
    }

    #[tokio::test]
    async fn a_caught_signal_is_named() {
        let mut signals = Signals::install().unwrap();
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP).unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), signals.recv()).await.unwrap();
        assert_eq!(got, (1, "SIGHUP"));
    }
}
