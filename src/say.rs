//! Printing to stdout without panicking when the reader has gone away
//! (`plugfest run | head`): the run goes on and its reports are still
//! written; only the lines nobody reads are lost.

/// `println!` that ignores write errors such as a closed pipe.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
