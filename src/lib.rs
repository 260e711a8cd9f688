pub mod datamodel;
pub mod suite;
pub mod usp;
