//! (to be written)

#[allow(unused_imports)]
use super::Store;
