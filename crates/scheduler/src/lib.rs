//! The compute scheduler's filters and weighers: pure functions over host
//! state, no I/O.
