pub mod mtp;
pub mod report;
pub mod results;
pub mod session;
pub mod target;
pub mod trace;
pub mod usp;
