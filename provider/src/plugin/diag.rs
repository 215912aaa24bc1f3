//! Diagnostics: errors and warnings for the user, each tied to an attribute path when one is known.

use super::path::AttributePath;
use super::proto::tfplugin6 as pb;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One message for the user: a summary line, a detail that says what to do, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttributePath>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, summary: summary.into(), detail: detail.into(), path: None }
    }

    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, summary: summary.into(), detail: detail.into(), path: None }
    }

    pub fn at(mut self, path: AttributePath) -> Diagnostic {
        self.path = Some(path);
        self
    }

    pub fn to_proto(&self) -> pb::Diagnostic {
        pb::Diagnostic {
            severity: match self.severity {
                Severity::Error => pb::diagnostic::Severity::Error as i32,
                Severity::Warning => pb::diagnostic::Severity::Warning as i32,
            },
            summary: self.summary.clone(),
            detail: self.detail.clone(),
            attribute: self.path.as_ref().filter(|p| !p.is_root()).map(AttributePath::to_proto),
        }
    }
}

/// A list of diagnostics collected while handling one call.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn to_proto(&self) -> Vec<pb::Diagnostic> {
        self.0.iter().map(Diagnostic::to_proto).collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(d: Vec<Diagnostic>) -> Self {
        Diagnostics(d)
    }
}

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds every diagnostic of `other`, keeping their order.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// `outcome` with these diagnostics (warnings collected earlier in the call) ahead of its own.
    pub fn before<T>(self, outcome: Outcome<T>) -> Outcome<T> {
        let mut all = self;
        match outcome {
            Ok(done) => {
                all.extend(done.diagnostics);
                all.into_outcome(done.value)
            }
            Err(errors) => {
                all.extend(errors);
                Err(all)
            }
        }
    }

    /// `Ok(value)` with these diagnostics when none is an error, else `Err` with all of them: only errors
    /// stop a call, and warnings reach Terraform either way.
    pub fn into_outcome<T>(self, value: T) -> Outcome<T> {
        if self.has_errors() {
            Err(self)
        } else {
            Ok(Diagnosed { value, diagnostics: self })
        }
    }
}

/// A call's value together with the warnings it produced. Errors travel here only from an apply that left
/// an object behind ([`Diagnosed::incomplete`]); any other call that fails returns `Err(Diagnostics)` (see
/// [`Outcome`]).
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Diagnosed<T> {
    pub value: T,
    pub diagnostics: Diagnostics,
}

impl<T> Diagnosed<T> {
    pub fn new(value: T) -> Diagnosed<T> {
        Diagnosed { value, diagnostics: Diagnostics::default() }
    }

    /// Adds a warning (or any diagnostic; an error here still stops the call when the framework sees it).
    pub fn with(mut self, diagnostic: Diagnostic) -> Diagnosed<T> {
        self.diagnostics.push(diagnostic);
        self
    }

    /// Adds diagnostics collected earlier in the call, such as validation warnings.
    pub fn with_all(mut self, diagnostics: Diagnostics) -> Diagnosed<T> {
        self.diagnostics.extend(diagnostics);
        self
    }

    /// For create and update only: the object exists as `value`, but the call failed with `error` (a wait
    /// for another system that ran out, say). Terraform records `value` and shows the error, so nothing is
    /// orphaned; a failed create is recorded tainted, and the next apply replaces it.
    pub fn incomplete(value: T, error: Diagnostic) -> Diagnosed<T> {
        Diagnosed { value, diagnostics: Diagnostics(vec![error]) }
    }

    /// Like [`Diagnosed::and_then`], but errors so far stay with the value instead of stopping: how the
    /// framework carries an [`Diagnosed::incomplete`] apply through to Terraform.
    pub fn keeping<U>(self, f: impl FnOnce(T) -> Outcome<U>) -> Outcome<U> {
        let mut all = self.diagnostics;
        match f(self.value) {
            Ok(done) => {
                all.extend(done.diagnostics);
                Ok(Diagnosed { value: done.value, diagnostics: all })
            }
            Err(errors) => {
                all.extend(errors);
                Err(all)
            }
        }
    }

    /// Transforms the value, keeping the diagnostics.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Diagnosed<U> {
        Diagnosed { value: f(self.value), diagnostics: self.diagnostics }
    }

    /// Like [`Diagnosed::map`] for a transformation that may fail; the diagnostics so far are kept either way.
    pub fn and_then<U>(self, f: impl FnOnce(T) -> Outcome<U>) -> Outcome<U> {
        self.diagnostics.before(f(self.value))
    }
}

impl<T> From<T> for Diagnosed<T> {
    fn from(value: T) -> Self {
        Diagnosed::new(value)
    }
}

/// What every component call returns, in Terraform's model of a value plus diagnostics: `Ok` carries the
/// value and its warnings, `Err` the diagnostics (at least one an error) that stopped the call.
/// `Ok(value.into())` is a plain success.
pub type Outcome<T> = Result<Diagnosed<T>, Diagnostics>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_survive_success_and_only_errors_stop() {
        let ok = Diagnosed::new(1).with(Diagnostic::warning("w1", "first"));
        let chained = ok.and_then(|v| Ok(Diagnosed::new(v + 1).with(Diagnostic::warning("w2", "second")))).unwrap();
        assert_eq!(chained.value, 2);
        let summaries: Vec<&str> = chained.diagnostics.0.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(summaries, ["w1", "w2"]);

        let failed = Diagnosed::new(1)
            .with(Diagnostic::warning("w1", "kept"))
            .and_then(|_| Err::<Diagnosed<()>, _>(Diagnostic::error("e", "stops").into()))
            .unwrap_err();
        assert_eq!(failed.0.len(), 2, "the warning before the error is kept: {failed:?}");
        assert!(failed.has_errors());

        assert!(Diagnostics::from(Diagnostic::warning("w", "x")).into_outcome(()).is_ok());
        assert!(Diagnostics::from(Diagnostic::error("e", "x")).into_outcome(()).is_err());
    }
}
