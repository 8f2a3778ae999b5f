//! Silences the panic hook while a sweep runs: workloads panic on purpose
//! (and under fault injection), and each panic is caught and recorded.

use std::panic::{self, PanicHookInfo};

type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Restores the previous hook when dropped.
pub(super) struct QuietPanics {
    previous: Option<Hook>,
}

impl QuietPanics {
    pub(super) fn install() -> QuietPanics {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(|_| {}));
        QuietPanics {
            previous: Some(previous),
        }
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            panic::set_hook(previous);
        }
    }
}
