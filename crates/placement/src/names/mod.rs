//! Resource class and trait names: the standard lists and the rules for
//! custom names (`CUSTOM_` followed by upper-case letters, digits and `_`).

mod standard;

pub use standard::{STANDARD_RESOURCE_CLASSES, STANDARD_TRAITS};

pub fn is_standard_class(name: &str) -> bool {
    STANDARD_RESOURCE_CLASSES.contains(&name)
}

pub fn is_standard_trait(name: &str) -> bool {
    STANDARD_TRAITS.binary_search(&name).is_ok()
}

/// `CUSTOM_` and at least one of `A-Z 0-9 _`, at most 255 characters.
pub fn is_custom_name(name: &str) -> bool {
    name.len() <= 255
        && name.strip_prefix("CUSTOM_").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// A name that could be a class or trait at all (standard or well-formed
/// custom): what query parameters are checked against before any lookup.
pub fn is_well_formed(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_standard_class("VCPU") && is_standard_class("MEMORY_MB") && !is_standard_class("CUSTOM_X"));
        assert!(is_standard_trait("HW_CPU_X86_AVX2") && !is_standard_trait("HW_NOPE"));
        assert!(STANDARD_TRAITS.windows(2).all(|w| w[0] < w[1]), "sorted for binary search");
        assert!(is_custom_name("CUSTOM_GOLD_1") && !is_custom_name("CUSTOM_") && !is_custom_name("CUSTOM_a"));
        assert!(!is_custom_name("GOLD"));
    }
}
