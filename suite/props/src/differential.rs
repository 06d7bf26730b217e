//! Differential mode: the same scenario against the embedded reference and the target.
//! A disagreement a clause decides (success against refusal, a server error, a redirect
//! where the reference refuses to redirect) fails; one the notes settle but the RFCs
//! leave open (400 against 401) warns; any other difference (which 4xx, which error
//! code) is recorded for information, so a team sees how its server differs.

use crate::exec::Executed;
use crate::rules::Violation;
use crate::scenario::Scenario;
use qoauth_harness::cases::{Expect, Matcher};

/// How much a disagreement matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Info,
    Warn,
    Fail,
}

/// The first disagreement between the two runs, if any.
pub fn compare(
    _: &Scenario,
    target: &Executed,
    reference: &Executed,
) -> Option<(Class, Violation)> {
    let mut worst: Option<(Class, Violation)> = None;
    for (ts, rs) in target.steps.iter().zip(reference.steps.iter()) {
        let (Some(t), Some(r)) = (ts.last(), rs.last()) else {
            continue;
        };
        if t.status == r.status {
            let code = |o: &qoauth_harness::verdict::Observed| {
                o.json().ok().and_then(|d| {
                    d.pointer("/errors/0/code")
                        .and_then(|c| c.as_str())
                        .map(str::to_string)
                })
            };
            if t.status >= 400 && code(t) != code(r) && worst.is_none() {
                worst = Some((
                    Class::Info,
                    Violation {
                        step: ts.index,
                        expected: format!("error code {:?} as the reference", code(r)),
                        actual: format!("error code {:?}", code(t)),
                        expect: Expect::status(r.status)
                            .with_json("/errors/0/code", Matcher::equals(code(r))),
                        expect_count: Default::default(),
                        pre: Vec::new(),
                    },
                ));
            }
            continue;
        }
        let redirect = |s: u16| matches!(s, 301 | 302 | 303 | 307 | 308);
        let ok = |s: u16| (200..300).contains(&s);
        let class = if t.status >= 500
            || ok(t.status) != ok(r.status)
            || redirect(t.status) != redirect(r.status)
        {
            Class::Fail
        } else if matches!((t.status, r.status), (400, 401) | (401, 400)) {
            Class::Warn
        } else {
            Class::Info
        };
        let v = Violation {
            step: ts.index,
            expected: format!("status {} as the reference", r.status),
            actual: format!("status {}", t.status),
            expect: Expect::status(r.status),
            expect_count: Default::default(),
            pre: Vec::new(),
        };
        if worst.as_ref().is_none_or(|(c, _)| class > *c) {
            worst = Some((class, v));
        }
        if class == Class::Fail {
            break;
        }
    }
    worst
}
