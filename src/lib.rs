pub mod agent;
pub mod usp;
