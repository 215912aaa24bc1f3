//! Data sources, one file each, named after the data source.

pub mod domains;
pub mod inventory;
pub mod verdict;
