//! Readiness: whether the dependencies a request needs answer. `/readyz`
//! and the gRPC health service both report this one answer.

use std::sync::Arc;

/// One named readiness condition beyond the store (the event bus), read on
/// every probe. The server builds the list once and hands the same list to
/// `/readyz` and to the gRPC health service.
#[derive(Clone)]
pub struct ReadinessCheck {
    /// Shown in `/readyz` (`bus`).
    pub name: &'static str,
    /// Whether it is fine right now.
    pub is_ready: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl std::fmt::Debug for ReadinessCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadinessCheck")
            .field("name", &self.name)
            .finish()
    }
}

/// The outcome of one readiness probe per dependency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    checks: Vec<(&'static str, bool)>,
}

impl Readiness {
    /// Adds the outcome of checking `name`.
    pub fn with(mut self, name: &'static str, is_ok: bool) -> Self {
        self.checks.push((name, is_ok));
        self
    }

    /// Whether every dependency answered.
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|(_, ok)| *ok)
    }

    /// Each dependency and whether it answered, in check order.
    pub fn checks(&self) -> &[(&'static str, bool)] {
        &self.checks
    }

    /// The dependencies that did not answer.
    pub fn failing(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(name, _)| *name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_passes() {
        assert!(Readiness::default().with("store", true).is_ready());
        let down = Readiness::default().with("store", true).with("bus", false);
        assert!(!down.is_ready());
        assert_eq!(down.failing(), vec!["bus"]);
    }
}
