//! Entering and leaving the terminal. The terminal is restored on every
//! way out: normal quit, error (the guard's `Drop`), panic (the hook) and
//! SIGINT, SIGTERM, SIGHUP, SIGQUIT (the loop breaks, then the guard drops).

use std::io::{self, Stdout};
use std::sync::Once;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub(crate) type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the cockpit runs; restores it when dropped.
pub(crate) struct TerminalGuard {
    pub terminal: Tui,
}

impl TerminalGuard {
    pub(crate) fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, EnterAlternateScreen, EnableMouseCapture) {
            restore();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(TerminalGuard { terminal })
    }

    /// Ring the terminal bell (BEL): a rollback trigger started firing.
    pub fn bell(&mut self) -> io::Result<()> {
        use std::io::Write;
        let out = self.terminal.backend_mut();
        out.write_all(b"\x07")?;
        out.flush()
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
        let _ = self.terminal.show_cursor();
    }
}

/// Put the terminal back the way we found it. Safe to call more than once.
pub(crate) fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), DisableMouseCapture, LeaveAlternateScreen, crossterm::cursor::Show);
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            // The programs `command` sources started would outlive us.
            crate::children::end_all();
            previous(info);
            // A panic anywhere (a source task included) ends the cockpit:
            // a screen that keeps running on a restored terminal, or with a
            // source silently gone, would lie.
            std::process::exit(101);
        }));
    });
}
