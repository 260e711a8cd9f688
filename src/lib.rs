pub mod usp;
