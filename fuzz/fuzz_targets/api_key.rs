//! An `Authorization` or `x-api-key` value, any text, as authentication splits it: no panic,
//! and what it accepts is exactly `nru_<public id>_<secret>` of the parts it returns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neureus_store::{parse_api_key, split_api_key};

fuzz_target!(|key: &str| {
    match split_api_key(key) {
        Ok((public_id, secret)) => {
            assert_eq!(format!("nru_{public_id}_{secret}"), key);
            let parts = parse_api_key(key).expect("split and parse agree");
            assert_eq!(
                (parts.public_id.as_str(), parts.secret.as_str()),
                (public_id, secret)
            );
        }
        Err(_) => assert!(parse_api_key(key).is_err(), "split and parse agree"),
    }
});
