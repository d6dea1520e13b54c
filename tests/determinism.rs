//! The same seed gives the same bits. `tests/web.rs` pins the same digest in
//! wasm32, so together they check that native and browser runs agree.

use casebook::engine::rng::Seed;
use casebook::engine::world::content::{ContentParams, ContentWorld};
use casebook::engine::world::feed::{FeedParams, FeedWorld};

/// The feed world's fingerprint at the fixture below. Changing the engine's
/// generative model changes it on purpose: update it here and in `web.rs`.
pub const FEED_DIGEST: u64 = 2_081_932_289_210_024_250;

#[test]
fn feed_world_digest_is_pinned() {
    let params = FeedParams {
        users: 500,
        days: 3,
        ..FeedParams::default()
    };
    let world = FeedWorld::generate(&params, Seed(42)).expect("valid parameters");
    assert_eq!(world.impressions.digest(), FEED_DIGEST);
}

/// The content world's fingerprint at the fixture below (posts, tokens,
/// views, reports and every source's labels). Update it here and in `web.rs`
/// when the content world's generative model changes on purpose.
pub const CONTENT_DIGEST: u64 = 3_575_418_130_284_539_689;

#[test]
fn content_world_digest_is_pinned() {
    let params = ContentParams {
        posts_per_day: 500,
        days: 3,
        ..ContentParams::default()
    };
    let world = ContentWorld::generate(&params, Seed(42)).expect("valid parameters");
    assert_eq!(world.digest(), CONTENT_DIGEST);
}
