//! Scope sets as 128-bit masks over the fixture's declared scopes: granting, narrowing and
//! echoing a scope costs no allocation, and "never widens" is a subset test.

use crate::fixture::Registry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ScopeSet(pub u128);

/// Why a requested scope cannot be granted (RFC 6749 5.2 invalid_scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeError {
    /// A token that is not a declared scope, or a malformed list.
    Unknown,
    /// A declared scope outside what the client or the grant allows.
    NotAllowed,
}

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);

    pub fn contains(self, bit: u8) -> bool {
        self.0 & (1u128 << bit) != 0
    }
    pub fn insert(&mut self, bit: u8) {
        self.0 |= 1u128 << bit;
    }
    pub fn remove(&mut self, bit: Option<u8>) {
        if let Some(b) = bit {
            self.0 &= !(1u128 << b);
        }
    }
    pub fn is_subset(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// Parses a space-delimited scope request (RFC 6749 3.3) and checks it against
    /// `allowed`. A scope whose parent is allowed is allowed too (notes section 2). An
    /// absent or empty request means the allow list minus `offline_access` (notes
    /// ambiguity 9: offline_access is never implicit).
    pub fn request(
        reg: &Registry,
        requested: Option<&str>,
        allowed: ScopeSet,
    ) -> Result<ScopeSet, ScopeError> {
        let requested = requested.map(str::trim).unwrap_or("");
        if requested.is_empty() {
            let mut s = allowed;
            s.remove(reg.offline_access);
            return Ok(s);
        }
        let mut set = ScopeSet::EMPTY;
        // Real clients send scopes separated by one space; `+` decoding and repeated spaces
        // from hand-written URLs are tolerated (notes ambiguity 7).
        for tok in requested.split(' ').filter(|t| !t.is_empty()) {
            let bit = *reg.scope_index.get(tok).ok_or(ScopeError::Unknown)?;
            let ok = allowed.contains(bit)
                || reg.scope_parent[bit as usize].is_some_and(|p| allowed.contains(p));
            if !ok {
                return Err(ScopeError::NotAllowed);
            }
            set.insert(bit);
        }
        Ok(set)
    }

    /// Narrowing for refresh (RFC 6749 6): every requested scope must already be granted.
    /// The part of a request within `allowed` (variant `scope-narrowing`: RFC 6749 3.3 lets
    /// the server "fully or partially ignore the scope requested"). Unknown and disallowed
    /// scopes are dropped; when nothing is left, `None` (the request is then refused: a
    /// default the client never asked for would widen what it requested).
    pub fn allowed_part(
        reg: &Registry,
        requested: Option<&str>,
        allowed: ScopeSet,
    ) -> Option<ScopeSet> {
        let mut set = ScopeSet::EMPTY;
        for tok in requested.unwrap_or("").split(' ').filter(|t| !t.is_empty()) {
            if let Some(&bit) = reg.scope_index.get(tok) {
                let ok = allowed.contains(bit)
                    || reg.scope_parent[bit as usize].is_some_and(|p| allowed.contains(p));
                if ok {
                    set.insert(bit);
                }
            }
        }
        (set != ScopeSet::EMPTY).then_some(set)
    }

    pub fn narrow(
        reg: &Registry,
        requested: Option<&str>,
        granted: ScopeSet,
    ) -> Result<ScopeSet, ScopeError> {
        match requested.map(str::trim) {
            None | Some("") => Ok(granted),
            Some(r) => {
                let mut set = ScopeSet::EMPTY;
                for tok in r.split(' ').filter(|t| !t.is_empty()) {
                    let bit = *reg.scope_index.get(tok).ok_or(ScopeError::Unknown)?;
                    if !granted.contains(bit) {
                        return Err(ScopeError::NotAllowed);
                    }
                    set.insert(bit);
                }
                Ok(set)
            }
        }
    }

    /// Writes the set in declaration order, space-delimited.
    pub fn write_to(self, reg: &Registry, out: &mut String) {
        let mut first = true;
        let mut bits = self.0;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if !first {
                out.push(' ');
            }
            first = false;
            out.push_str(&reg.scopes[i]);
        }
    }

    pub fn to_string(self, reg: &Registry) -> String {
        let mut s = String::new();
        self.write_to(reg, &mut s);
        s
    }
}
