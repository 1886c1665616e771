//! A data plane that only remembers: for API tests, and for hosts where the
//! Linux one cannot run.

use std::sync::Mutex;

use crate::{ApplyReport, BoxFuture, DataPlane, Error, HostState};

/// Keeps the last state applied; can be told to fail.
#[derive(Debug, Default)]
pub struct FakeDataPlane {
    inner: Mutex<FakeInner>,
}

#[derive(Debug, Default)]
struct FakeInner {
    last: Option<HostState>,
    applies: u64,
    fail_next: Option<String>,
    fail_always: Option<String>,
}

impl FakeDataPlane {
    pub fn new() -> Self {
        Self::default()
    }
    /// The last state an `apply` accepted (a failed apply changes nothing).
    pub fn last_applied(&self) -> Option<HostState> {
        self.lock().last.clone()
    }
    /// How many `apply` calls succeeded.
    pub fn apply_count(&self) -> u64 {
        self.lock().applies
    }
    /// The next `apply` fails with this message (once).
    pub fn fail_next(&self, message: impl Into<String>) {
        self.lock().fail_next = Some(message.into());
    }
    /// Every `apply` fails with this message until `None` is set.
    pub fn fail_always(&self, message: Option<String>) {
        self.lock().fail_always = message;
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, FakeInner> {
        // A panic while holding this lock leaves plain data: keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl DataPlane for FakeDataPlane {
    fn apply<'a>(&'a self, desired: &'a HostState) -> BoxFuture<'a, Result<ApplyReport, Error>> {
        Box::pin(async move {
            let mut g = self.lock();
            if let Some(m) = g.fail_next.take().or_else(|| g.fail_always.clone()) {
                return Err(Error::Injected(m));
            }
            let changed = g.last.as_ref() != Some(desired);
            g.last = Some(desired.clone());
            g.applies += 1;
            let mut report = ApplyReport::default();
            if changed {
                report.actions.push("state recorded".into());
            }
            Ok(report)
        })
    }

    fn kind(&self) -> &'static str {
        "fake"
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remembers_and_fails_on_demand() {
        let f = FakeDataPlane::new();
        let s = HostState::default();
        f.apply(&s).await.unwrap();
        assert_eq!(f.last_applied(), Some(s.clone()));
        f.fail_next("boom");
        assert!(matches!(f.apply(&s).await, Err(Error::Injected(m)) if m == "boom"));
        assert!(f.apply(&s).await.is_ok());
        assert_eq!(f.apply_count(), 2);
        f.fail_always(Some("down".into()));
        assert!(f.apply(&s).await.is_err());
        assert!(f.apply(&s).await.is_err());
    }
}
