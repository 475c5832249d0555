//! Policy files: any text as YAML.
#![no_main]

use gate_core::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match gate_inputs::policy_file::parse("fuzz.yaml", text, Timestamp::from_unix(1_800_000_000)) {
        Ok(desired) => {
            // What parses is consistent: one policy per scope.
            let mut scopes: Vec<_> = desired.policies.iter().map(|p| p.scope.as_str().to_owned()).collect();
            scopes.sort();
            scopes.dedup();
            assert_eq!(scopes.len(), desired.policies.len());
            // Every contact is valid, the only one of its account, and for an
            // account some entry vouches for (or may cover: an OU or organization).
            for c in &desired.contacts {
                assert!(c.problems().is_empty(), "{c:?}");
                assert_eq!(desired.contacts.iter().filter(|o| o.account == c.account).count(), 1);
                let vouched = |e: &gate_core::AllowEntry| e.principal.account().is_none_or(|a| a == c.account);
                assert!(desired.entries.iter().any(vouched), "{c:?}");
            }
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
});
