//! Input rules shared by the API and the in-process calls.

use rustack_common::Error;

use crate::model::Inventory;

/// The largest amount placement accepts (upstream's schema: a 32-bit int).
pub const MAX_INT: i64 = 2_147_483_647;

/// The largest allocation ratio (a single-precision float, as upstream's column).
pub const MAX_RATIO: f64 = 3.40282e38;

/// An inventory's fields in range (upstream's schema, in jsonschema's
/// words), then its capacity (see [`inventory_capacity`]).
pub fn inventory(provider: &str, class: &str, i: &Inventory, reserved_may_equal_total: bool) -> Result<(), Error> {
    inventory_ranges(i)?;
    inventory_capacity(provider, class, i, reserved_may_equal_total)
}

/// Each field of an inventory within upstream's schema bounds.
pub fn inventory_ranges(i: &Inventory) -> Result<(), Error> {
    let range = |name: &str, v: i64, min: i64| -> Result<(), Error> {
        let at = format!("minimum' in schema['properties']['{name}']");
        if v < min {
            return Err(schema(format!("{v} is less than the minimum of {min}"), &at));
        }
        if v > MAX_INT {
            return Err(schema(
                format!("{v} is greater than the maximum of {MAX_INT}"),
                &at.replace("minimum", "maximum"),
            ));
        }
        Ok(())
    };
    range("total", i.total, 1)?;
    range("reserved", i.reserved, 0)?;
    range("min_unit", i.min_unit, 1)?;
    range("max_unit", i.max_unit, 1)?;
    range("step_size", i.step_size, 1)?;
    if !i.allocation_ratio.is_finite() || i.allocation_ratio > MAX_RATIO {
        return Err(schema(
            format!("{} is greater than the maximum of {MAX_RATIO:e}", i.allocation_ratio),
            "maximum' in schema['properties']['allocation_ratio']",
        ));
    }
    Ok(())
}

/// The capacity is positive, or from 1.26 (`reserved_may_equal_total`)
/// not negative. The message is the part after "Unable to … inventory for
/// resource provider X: ".
pub fn inventory_capacity(
    provider: &str,
    class: &str,
    i: &Inventory,
    reserved_may_equal_total: bool,
) -> Result<(), Error> {
    let capacity = (i.total - i.reserved) as f64 * i.allocation_ratio;
    if capacity < 0.0 || (!reserved_may_equal_total && capacity <= 0.0) {
        return Err(Error::bad_request(format!(
            "Invalid inventory for '{class}' on resource provider '{provider}'. The reserved value is greater than {}total.",
            if reserved_may_equal_total { "" } else { "or equal to " }
        )));
    }
    Ok(())
}

/// `validator` may carry the schema path: `minimum' in schema['properties']['total']`.
fn schema(msg: String, validator: &str) -> Error {
    let at =
        if validator.contains(" in schema") { format!("'{validator}") } else { format!("'{validator}' in schema") };
    Error::bad_request(format!("JSON does not validate: {msg}\n\nFailed validating {at}"))
}

/// A uuid in any of the forms upstream accepts (with or without dashes),
/// returned in the canonical dashed lower-case form.
pub fn uuid(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s).ok().map(|u| u.hyphenated().to_string())
}
