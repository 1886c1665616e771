//! Input rules shared by the API and the in-process calls.

use rustack_common::Error;

use crate::model::Inventory;

/// The largest amount placement accepts (upstream's schema: a 32-bit int).
pub const MAX_INT: i64 = 2_147_483_647;

/// An inventory's fields in range; `reserved_may_equal_total` from 1.26.
pub fn inventory(provider: &str, class: &str, i: &Inventory, reserved_may_equal_total: bool) -> Result<(), Error> {
    let range = |name: &str, v: i64, min: i64| {
        if v < min || v > MAX_INT {
            Err(Error::bad_request(format!(
                "Unable to update inventory for resource provider {provider}: {name} of {class} must be between {min} and {MAX_INT}."
            )))
        } else {
            Ok(())
        }
    };
    range("total", i.total, 1)?;
    range("reserved", i.reserved, 0)?;
    range("min_unit", i.min_unit, 1)?;
    range("max_unit", i.max_unit, 1)?;
    range("step_size", i.step_size, 1)?;
    if !(i.allocation_ratio.is_finite() && i.allocation_ratio > 0.0 && i.allocation_ratio <= 3.4e38) {
        return Err(Error::bad_request(format!(
            "Unable to update inventory for resource provider {provider}: allocation_ratio of {class} must be a positive number."
        )));
    }
    if i.reserved > i.total || (!reserved_may_equal_total && i.reserved == i.total) {
        return Err(Error::bad_request(format!(
            "Unable to update inventory for resource provider {provider}: Invalid inventory for '{class}' on resource provider '{provider}'. The reserved value is greater than {}total.",
            if reserved_may_equal_total { "" } else { "or equal to " }
        )));
    }
    if i.min_unit > i.max_unit {
        return Err(Error::bad_request(format!(
            "Unable to update inventory for resource provider {provider}: min_unit of {class} is greater than its max_unit."
        )));
    }
    Ok(())
}

/// A uuid in any of the forms upstream accepts (with or without dashes),
/// returned in the canonical dashed lower-case form.
pub fn uuid(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s).ok().map(|u| u.hyphenated().to_string())
}
