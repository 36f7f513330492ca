//! Whole-number periods with a unit (`72h`, `30d`, `15m`), as `--stack.retention` and
//! `--alert.silence` take them: one parser, so both read numbers and units the same way.

/// The number of base units in `text`: digits then one unit from `units` (its name and how
/// many base units it holds), within `range`; `None` for anything else (signs, fractions,
/// spaces, overflow).
pub fn parse(
    text: &str,
    units: &[(&str, u64)],
    range: std::ops::RangeInclusive<u64>,
) -> Option<u64> {
    let split = text.len().checked_sub(1)?;
    let (number, unit) = text.split_at_checked(split)?;
    let per_unit = units.iter().find(|(name, _)| *name == unit)?.1;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per_unit))
        .filter(|n| range.contains(n))
}
