//! Levels that match their clauses: a MUST case must cite a clause of MUST strength (MUST,
//! MUST NOT, REQUIRED, SHALL, SHALL NOT in the quoted words) or a spec contract (the
//! vendored spec pins the value or status), and a case judged only at Qlik fidelity must
//! cite what the real service is known to do (the notes).

use qoauth_harness::result::Level;
use qoauth_harness::Catalogue;

fn must_strength(quote: &str) -> bool {
    let words: Vec<&str> = quote
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    words
        .iter()
        .any(|w| matches!(*w, "MUST" | "REQUIRED" | "SHALL"))
}

#[test]
fn every_must_case_cites_a_must_clause_or_a_spec_contract() {
    let catalogue = Catalogue::load(&Catalogue::default_dir()).expect("the catalogue loads");
    let weak: Vec<String> = catalogue
        .cases
        .iter()
        .filter(|c| c.level == Level::Must && c.fidelity.is_none())
        .filter(|c| {
            !c.refs
                .iter()
                .any(|r| r.doc == "spec" || must_strength(r.quote.as_deref().unwrap_or("")))
        })
        .map(|c| c.id.clone())
        .collect();
    assert!(
        weak.is_empty(),
        "MUST cases citing no MUST-strength clause or spec contract (quote the keyword, \
         lower the level, or mark them \"fidelity\": \"qlik\"): {weak:#?}"
    );
}

#[test]
fn every_qlik_fidelity_case_cites_the_real_service() {
    let catalogue = Catalogue::load(&Catalogue::default_dir()).expect("the catalogue loads");
    let unsourced: Vec<String> = catalogue
        .cases
        .iter()
        .filter(|c| c.fidelity.is_some())
        .filter(|c| !c.refs.iter().any(|r| r.doc == "notes"))
        .map(|c| c.id.clone())
        .collect();
    assert!(
        unsourced.is_empty(),
        "Qlik-fidelity cases must cite the notes on the real service: {unsourced:#?}"
    );
}

#[test]
fn the_keyword_test_reads_words_not_substrings() {
    assert!(must_strength("The authorization server MUST: o require"));
    assert!(must_strength("state REQUIRED if present"));
    assert!(!must_strength("the server SHOULD also invalidate"));
    assert!(!must_strength("MUSTARD is OPTIONAL"));
}
