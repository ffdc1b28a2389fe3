use super::super::tests::{backends, config, ctx_path, pool_of};
use super::*;
use crate::config::Strategy;
use proptest::prelude::*;

const KEYS: usize = 10_000;

fn picks(
    ch: &ConsistentHash,
    pool: &[Arc<Backend>],
    eligible: &dyn Fn(usize) -> bool,
) -> Vec<String> {
    (0..KEYS)
        .map(|k| {
            let path = format!("/user/{k}");
            let i = ch.pick(pool, eligible, &ctx_path(&path)).unwrap();
            pool[i].address.to_string()
        })
        .collect()
}

fn moved(a: &[String], b: &[String]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

fn addresses(ports: &[u16]) -> Vec<(String, u32)> {
    ports.iter().map(|p| (format!("10.1.2.3:{p}"), 1)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn an_ineligible_backend_moves_only_its_keys_and_gets_them_back(
        ports in prop::collection::hash_set(1u16..u16::MAX, 2..=8),
        out in any::<prop::sample::Index>(),
    ) {
        let list = addresses(&ports.into_iter().collect::<Vec<_>>());
        let n = list.len();
        let out = out.index(n);
        let pool = pool_of(&list);
        let ch = ConsistentHash::new(&config(Strategy::ConsistentHash, Some(HashKey::Path), &list));
        let before = picks(&ch, &pool, &|_| true);
        let without = picks(&ch, &pool, &|i| i != out);
        let limit = KEYS / n + KEYS / 50;
        prop_assert!(moved(&before, &without) <= limit, "{} > {}", moved(&before, &without), limit);
        for (b, w) in before.iter().zip(&without) {
            prop_assert!(b == w || *b == list[out].0, "a key of another backend moved");
        }
        let back = picks(&ch, &pool, &|_| true);
        prop_assert_eq!(moved(&before, &back), 0);
    }

    #[test]
    fn removing_a_backend_moves_about_its_share_and_adding_it_back_none(
        ports in prop::collection::hash_set(1u16..u16::MAX, 2..=8),
        out in any::<prop::sample::Index>(),
    ) {
        let list = addresses(&ports.into_iter().collect::<Vec<_>>());
        let n = list.len();
        let out = out.index(n);
        let mut fewer = list.clone();
        fewer.remove(out);
        let full = ConsistentHash::new(&config(Strategy::ConsistentHash, Some(HashKey::Path), &list));
        let less = ConsistentHash::new(&config(Strategy::ConsistentHash, Some(HashKey::Path), &fewer));
        let before = picks(&full, &pool_of(&list), &|_| true);
        let after = picks(&less, &pool_of(&fewer), &|_| true);
        // Rebuilding a Maglev table is not minimally disruptive: the survivors' fill race
        // changes too. Over 2,100 random pools the extra was at most 1.1x the removed share,
        // but two backends whose permutations share a skip (p = 1/65,536 per pair; ports 56777
        // and 1399 here) move about 1.35x, so the bound is 1.5x.
        let limit = KEYS * 3 / (2 * n) + KEYS / 50;
        prop_assert!(moved(&before, &after) <= limit, "{} > {}", moved(&before, &after), limit);
        let rebuilt = ConsistentHash::new(&config(Strategy::ConsistentHash, Some(HashKey::Path), &list));
        prop_assert_eq!(moved(&before, &picks(&rebuilt, &pool_of(&list), &|_| true)), 0);
    }
}

#[test]
fn same_key_same_backend_whatever_the_file_order() {
    let list = backends(&[1, 2, 1, 3]);
    let mut reversed = list.clone();
    reversed.reverse();
    let a = ConsistentHash::new(&config(
        Strategy::ConsistentHash,
        Some(HashKey::Path),
        &list,
    ));
    let b = ConsistentHash::new(&config(
        Strategy::ConsistentHash,
        Some(HashKey::Path),
        &reversed,
    ));
    assert_eq!(
        picks(&a, &pool_of(&list), &|_| true),
        picks(&b, &pool_of(&reversed), &|_| true)
    );
}

#[test]
fn pinned_assignment_survives_upgrades() {
    // If this changes, every sticky client moves after an upgrade: keep the hash and table fixed.
    let list = backends(&[1, 1, 1]);
    let ch = ConsistentHash::new(&config(
        Strategy::ConsistentHash,
        Some(HashKey::Path),
        &list,
    ));
    let got: Vec<String> = picks(&ch, &pool_of(&list), &|_| true)
        .into_iter()
        .take(8)
        .collect();
    assert_eq!(got, PINNED);
}

const PINNED: [&str; 8] = [
    "127.0.0.1:9001",
    "127.0.0.1:9001",
    "127.0.0.1:9001",
    "127.0.0.1:9001",
    "127.0.0.1:9002",
    "127.0.0.1:9002",
    "127.0.0.1:9002",
    "127.0.0.1:9001",
];

#[test]
fn keys_from_header_cookie_and_client_ip() {
    let list = backends(&[1, 1, 1, 1]);
    let pool = pool_of(&list);
    let mut headers = http::HeaderMap::new();
    headers.insert("x-user", "alice".parse().unwrap());
    headers.append(http::header::COOKIE, "a=1; session=abc".parse().unwrap());
    let ctx = PickContext {
        client_ip: "192.0.2.7".parse().unwrap(),
        path: "/",
        headers: &headers,
    };
    for key in [
        HashKey::Header("x-user".parse().unwrap()),
        HashKey::Cookie("session".into()),
        HashKey::ClientIp,
    ] {
        let ch = ConsistentHash::new(&config(Strategy::ConsistentHash, Some(key.clone()), &list));
        assert!(ch.key_hash(&ctx).is_some(), "{key:?}");
        let first = ch.pick(&pool, &|_| true, &ctx);
        assert!(
            (0..20).all(|_| ch.pick(&pool, &|_| true, &ctx) == first),
            "{key:?}"
        );
    }
    assert_eq!(cookie(&headers, "session"), Some(&b"abc"[..]));
    assert_eq!(cookie(&headers, "sess"), None);
    let v4: PickContext<'_> = PickContext {
        client_ip: "::ffff:192.0.2.7".parse().unwrap(),
        ..ctx
    };
    assert_eq!(
        key_hash(&HashKey::ClientIp, &v4),
        key_hash(&HashKey::ClientIp, &ctx)
    );
}

#[test]
fn a_missing_key_falls_back_to_random() {
    let list = backends(&[1, 1, 1, 1]);
    let pool = pool_of(&list);
    let ch = ConsistentHash::new(&config(
        Strategy::ConsistentHash,
        Some(HashKey::Cookie("session".into())),
        &list,
    ));
    let mut seen = [false; 4];
    for _ in 0..200 {
        seen[ch.pick(&pool, &|_| true, &ctx_path("/")).unwrap()] = true;
    }
    assert_eq!(seen, [true; 4]);
}

#[test]
fn two_backends_with_one_skip_still_move_less_than_one_and_a_half_shares() {
    // 10.1.2.3:56777 and 10.1.2.3:1399 hash to the same Maglev skip (38505), the worst case
    // for a rebuild: CI once drew this pool.
    let list = addresses(&[1454, 56777, 57702, 1399, 13817]);
    let full = ConsistentHash::new(&config(
        Strategy::ConsistentHash,
        Some(HashKey::Path),
        &list,
    ));
    let before = picks(&full, &pool_of(&list), &|_| true);
    for out in 0..list.len() {
        let mut fewer = list.clone();
        fewer.remove(out);
        let less = ConsistentHash::new(&config(
            Strategy::ConsistentHash,
            Some(HashKey::Path),
            &fewer,
        ));
        let after = picks(&less, &pool_of(&fewer), &|_| true);
        let share = before.iter().filter(|a| **a == list[out].0).count();
        let moved = moved(&before, &after);
        assert!(
            moved >= share && moved <= share * 3 / 2,
            "{moved} moved for a share of {share}"
        );
    }
}
