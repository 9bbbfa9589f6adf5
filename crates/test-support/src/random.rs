//! The random source the payment service draws receipt tokens and id tags
//! from, in tests.

use joule_domain::services::payments::RandomSource;

/// Random bytes from UUIDv4s: as unguessable as the tests need.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidRandom;

impl RandomSource for UuidRandom {
    fn bytes16(&self) -> [u8; 16] {
        *uuid::Uuid::new_v4().as_bytes()
    }
}
