//! The registry: every family latchkey knows, and the table the configuration mounts.
//! The one module that names the families; [`crate::table`] knows none of them.

use crate::table::{Family, MountError, Table};

/// Every family latchkey knows. One entry per family.
pub static FAMILIES: &[&Family] = &[
    &crate::session::FAMILY,
    &crate::oauth::FAMILY,
    &crate::toolkit::FAMILY,
    &crate::v0::FAMILY,
];

/// The family called `name`.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().copied().find(|f| f.name == name)
}

/// The table of `(family name, mount prefix)` pairs; families not listed are off.
/// Unknown names are refused, as are two families on one prefix.
pub fn mount(
    mounts: &[(&str, &str)],
    public_url: &str,
    min_password_length: usize,
) -> Result<Table, MountError> {
    let mut resolved = Vec::with_capacity(mounts.len());
    for (name, prefix) in mounts {
        let f = family(name).ok_or_else(|| MountError::UnknownFamily((*name).to_owned()))?;
        resolved.push((f, *prefix));
    }
    Table::new(&resolved, public_url, min_password_length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_doubled_mounts_are_refused() {
        assert_eq!(
            mount(&[("nope", "/")], "http://x", 8).unwrap_err(),
            MountError::UnknownFamily("nope".into())
        );
        let e = mount(&[("oauth", "/"), ("v0", "")], "http://x", 8).unwrap_err();
        assert_eq!(
            e.to_string(),
            "families `oauth` and `v0` are both mounted at `/`"
        );
        assert!(mount(&[("oauth", "/"), ("v0", "/v0")], "http://x", 8).is_ok());
    }
}
