//! Hooks for deliberate rule breaks, used to measure how many the suite detects. The
//! catalogue itself is not written yet: without the `faults` feature the set is always
//! empty and every check compiles to `false`.

/// The set of enabled faults.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    #[cfg(feature = "faults")]
    enabled: std::collections::BTreeSet<String>,
}

impl Faults {
    /// Enables the named faults (only with the `faults` feature).
    #[cfg(feature = "faults")]
    pub fn with<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Faults {
        Faults {
            enabled: names.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether a fault is on.
    #[allow(unused_variables)]
    pub fn is_on(&self, name: &str) -> bool {
        #[cfg(feature = "faults")]
        {
            self.enabled.contains(name)
        }
        #[cfg(not(feature = "faults"))]
        {
            false
        }
    }
}
