//! One conformance suite for the store's domain interface, run against every backend:
//! the redb file and a real PostgreSQL server (Debian's package, started by the tests).
//! Races are run for real: concurrent plans through `Store::commit`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use latchkey_storage::{
    delete_group, groups_of, members_of, AccountState, CeremonyRecord, FamilyRecord, Found,
    GrantRecord, GroupRecord, Kind, MemberRecord, MfaPendingRecord, PasskeyRecord, ProofPurpose,
    ProofRecord, Records as _, RecordsMut as _, RefreshEntry, SessionCodeRecord, SigningKeyRecord,
    Store, StoreError, Unique, UnixMillis, UserRecord, SCHEMA_VERSION,
};

/// A record kind the tests define for the table layer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Note {
    owner: String,
    tag: String,
    expires_at: Option<i64>,
}

impl Kind for Note {
    const TABLE: &'static str = "test_note";
    fn indexes(&self) -> Vec<(&'static str, Vec<u8>)> {
        vec![("note_owner", self.owner.as_bytes().to_vec())]
    }
    fn uniques(&self) -> Vec<(&'static str, Vec<u8>)> {
        vec![("note_tag", self.tag.as_bytes().to_vec())]
    }
    fn expires_at(&self) -> Option<UnixMillis> {
        self.expires_at.map(UnixMillis::from_millis)
    }
}

/// A store of the named backend, empty, and what keeps it alive.
fn store(backend: &str) -> (Store, Option<tempfile::TempDir>) {
    match backend {
        "redb" => {
            let dir = tempfile::tempdir().unwrap();
            let s = Store::open(&dir.path().join("s.redb")).unwrap();
            (s, Some(dir))
        }
        "postgres" => {
            let url = latchkey_storage::testing::new_database().unwrap();
            (Store::connect(&url, 16).unwrap(), None)
        }
        other => panic!("no backend {other}"),
    }
}

fn user(id: &str, email: &str, name: &str) -> UserRecord {
    UserRecord {
        id: id.into(),
        num: 0,
        email: (!email.is_empty()).then(|| email.into()),
        username: (!name.is_empty()).then(|| name.into()),
        display_name: None,
        first_name: None,
        last_name: None,
        role: "user".into(),
        password_hash: Some("$scrypt$ln=10,r=8,p=1$c2FsdA$aGFzaA".into()),
        state: AccountState::Active,
        created_at: UnixMillis::from_millis(1),
        updated_at: UnixMillis::from_millis(1),
        last_login_at: None,
        mfa: None,
        email_verified: false,
    }
}

fn add(s: &Store, u: &UserRecord) -> Result<UserRecord, StoreError> {
    s.write(|w| {
        let mut u = u.clone();
        u.num = w.allocate_user_num()?;
        w.insert_user(&u)?;
        Ok(u)
    })
}

fn family(id: &str, user: &str, expires_at: i64) -> FamilyRecord {
    FamilyRecord {
        id: id.into(),
        user_id: user.into(),
        amr: vec!["pwd".into()],
        created_at: UnixMillis::from_millis(1),
        rotated_at: UnixMillis::from_millis(1),
        expires_at: UnixMillis::from_millis(expires_at),
        current_token: "t".into(),
        revoked: None,
    }
}

fn entry(family: &str) -> RefreshEntry {
    RefreshEntry {
        family_id: family.into(),
        issued_at: UnixMillis::from_millis(1),
        spent_at: None,
        replays: 0,
    }
}

fn code(email: &str, expires_at: i64) -> SessionCodeRecord {
    SessionCodeRecord {
        email: email.into(),
        created_at: UnixMillis::from_millis(1),
        expires_at: UnixMillis::from_millis(expires_at),
        mfa_failures: 0,
    }
}

fn passkey(id: &[u8], user: &str, created_at: i64) -> PasskeyRecord {
    PasskeyRecord {
        id: id.to_vec(),
        user_id: user.into(),
        name: "key".into(),
        created_at: UnixMillis::from_millis(created_at),
        last_used_at: None,
        credential: "{}".into(),
    }
}

macro_rules! conformance {
    ($($name:ident($s:ident) $body:block)*) => {
        mod redb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let ($s, _keep) = super::store("redb");
                    super::$name(&$s).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let ($s, _keep) = super::store("postgres");
                    super::$name(&$s).await;
                }
            )*
        }
        $(
            #[allow(clippy::unused_async)]
            async fn $name($s: &Store) $body
        )*
    };
}

/// Runs `n` copies of the plan `make(i)` at once through `commit`; each plan says whether
/// it won. Returns how many did.
async fn race(
    s: &Store,
    n: usize,
    make: impl Fn(
        usize,
    )
        -> Box<dyn FnMut(&mut dyn latchkey_storage::Write) -> Result<bool, StoreError> + Send>,
) -> usize {
    let won = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..n {
        let mut plan = make(i);
        let won = won.clone();
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let result = Arc::new(std::sync::Mutex::new(false));
            let out = result.clone();
            let job: latchkey_storage::Job = Box::new(move |w| {
                let v = plan(w)?;
                *out.lock().unwrap() = v;
                Ok(())
            });
            s.commit(job).await.unwrap().unwrap();
            if *result.lock().unwrap() {
                won.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    won.load(Ordering::Relaxed)
}

conformance! {
    users_are_unique_by_email_name_and_look_alike(s) {
        let a = add(s, &user("a", "Ann@Example.com", "ann")).unwrap();
        assert_eq!(a.num, 1);
        for (u, want) in [
            (user("b", "ann@example.COM", "bob"), Unique::Email),
            (user("c", "c@example.com", "ann"), Unique::Username),
            // A Cyrillic а: the same skeleton.
            (user("d", "d@example.com", "\u{430}nn"), Unique::Username),
        ] {
            match add(s, &u) {
                Err(StoreError::Conflict(got)) => assert_eq!(got, want, "{u:?}"),
                other => panic!("{u:?} was not refused: {other:?}"),
            }
        }
        s.read(|r| {
            assert_eq!(r.user_count()?, 1);
            assert_eq!(r.user_id_by_email("ANN@example.com")?.as_deref(), Some("a"));
            assert_eq!(r.user_id_by_username("ann")?.as_deref(), Some("a"));
            assert_eq!(r.user_id_by_num(1)?.as_deref(), Some("a"));
            assert!(matches!(r.find_user("email:ann@example.com")?, Found::One(_)));
            assert!(matches!(r.find_user("nobody")?, Found::None));
            Ok::<_, StoreError>(())
        })
        .unwrap();
        // Deleting frees the email and the name; the number is never given again.
        assert!(s.write(|w| w.delete_user("a")).unwrap());
        let again = add(s, &user("e", "ann@example.com", "ann")).unwrap();
        assert_eq!(again.num, 2);
    }

    an_email_change_frees_the_old_address_and_refuses_a_taken_one(s) {
        let mut a = add(s, &user("a", "ann@example.com", "ann")).unwrap();
        add(s, &user("b", "bob@example.com", "bob")).unwrap();
        a.email = Some("BOB@example.com".into());
        match s.write(|w| w.change_email(&a)) {
            Err(StoreError::Conflict(Unique::Email)) => {}
            other => panic!("a taken address was not refused: {other:?}"),
        }
        // Its own address in another case is no conflict.
        a.email = Some("Ann@Example.com".into());
        s.write(|w| w.change_email(&a)).unwrap();
        a.email = Some("ann@new.example".into());
        a.email_verified = true;
        s.write(|w| w.change_email(&a)).unwrap();
        s.read(|r| {
            assert_eq!(r.user_id_by_email("ann@new.example")?.as_deref(), Some("a"));
            assert_eq!(r.user_id_by_email("ann@example.com")?, None);
            assert!(r.user("a")?.unwrap().email_verified);
            Ok::<_, StoreError>(())
        })
        .unwrap();
        add(s, &user("c", "ann@example.com", "cid")).unwrap();
    }

    users_page_in_the_order_they_were_made(s) {
        for i in 0..5 {
            add(s, &user(&format!("z{i}"), "", &format!("u{i}"))).unwrap();
        }
        let page = s.read(|r| r.users(Some(2), 2)).unwrap();
        let nums: Vec<u64> = page.iter().map(|u| u.num).collect();
        assert_eq!(nums, vec![3, 4]);
        let mut u = page[0].clone();
        u.role = "admin".into();
        s.write(|w| w.update_user(&u)).unwrap();
        assert_eq!(s.read(|r| r.user(&u.id)).unwrap().unwrap().role, "admin");
    }

    concurrent_sign_ups_of_one_name_make_one_user(s) {
        let won = race(s, 8, |i| {
            let u = user(&format!("id{i}"), &format!("x{i}@example.com"), "same");
            Box::new(move |w| {
                if w.conflict(&u)?.is_some() {
                    return Ok(false);
                }
                let mut u = u.clone();
                u.num = w.allocate_user_num()?;
                w.insert_user(&u)?;
                Ok(true)
            })
        })
        .await;
        assert_eq!(won, 1);
        assert_eq!(s.read(|r| r.user_count()).unwrap(), 1);
    }

    a_refresh_token_is_spent_once_under_races(s) {
        let a = add(s, &user("a", "a@example.com", "a")).unwrap();
        s.write(|w| {
            w.put_family(&family("f", &a.id, i64::MAX / 2))?;
            w.put_refresh(b"h0", &entry("f"))
        })
        .unwrap();
        let won = race(s, 8, |i| {
            Box::new(move |w| {
                let Some(mut e) = w.refresh(b"h0")? else {
                    return Ok(false);
                };
                if e.spent_at.is_some() {
                    return Ok(false);
                }
                e.spent_at = Some(UnixMillis::from_millis(2));
                w.put_refresh(b"h0", &e)?;
                w.put_refresh(format!("next{i}").as_bytes(), &entry("f"))?;
                Ok(true)
            })
        })
        .await;
        assert_eq!(won, 1, "exactly one rotation spends the token");
    }

    a_sign_in_racing_a_disable_leaves_no_live_family(s) {
        // The rule every plan keeps (see `Write`): a decision rests on rows it writes. A
        // sign-in decides on the user's state and writes the user (last_login_at); a
        // disable writes the user and revokes the families it sees. Whatever the order,
        // no family of a disabled user is left live.
        for round in 0..4 {
            let id = format!("u{round}");
            add(s, &user(&id, &format!("{id}@example.com"), &id)).unwrap();
            let uid = id.clone();
            race(s, 9, move |i| {
                let uid = uid.clone();
                Box::new(move |w| {
                    let Some(mut u) = w.user(&uid)? else {
                        return Ok(false);
                    };
                    if i == 4 {
                        u.state = AccountState::Disabled;
                        w.update_user(&u)?;
                        for f in w.family_ids_of_user(&uid)? {
                            if let Some(mut f) = w.family(&f)? {
                                f.revoked = Some(latchkey_storage::Revocation {
                                    at: UnixMillis::from_millis(2),
                                    reason: "user_disabled".into(),
                                });
                                w.put_family(&f)?;
                            }
                        }
                        return Ok(true);
                    }
                    if u.state != AccountState::Active {
                        return Ok(false);
                    }
                    u.last_login_at = Some(UnixMillis::from_millis(2));
                    w.update_user(&u)?;
                    w.put_family(&family(&format!("{uid}-f{i}"), &uid, i64::MAX / 2))?;
                    Ok(true)
                })
            })
            .await;
            s.read(|r| {
                assert_eq!(r.user(&id)?.unwrap().state, AccountState::Disabled);
                for f in r.family_ids_of_user(&id)? {
                    assert!(r.family(&f)?.unwrap().revoked.is_some(), "{f} is live");
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        }
    }

    what_goes_at_a_time_goes_then_and_only_then(s) {
        let a = add(s, &user("a", "a@example.com", "a")).unwrap();
        // A family whose expiry moves on at each rotation goes at its last expiry.
        s.write(|w| {
            w.put_family(&family("f", &a.id, 100))?;
            w.put_family(&family("f", &a.id, 300))?;
            w.put_refresh(b"t1", &entry("f"))?;
            w.put_refresh(b"t2", &entry("f"))?;
            w.put_session_code(b"c", &code("a@example.com", 100))?;
            w.put_session_code(b"c", &code("a@example.com", 300))
        })
        .unwrap();
        assert_eq!(s.write(|w| w.sweep_families(UnixMillis::from_millis(200), 100)).unwrap(), 0);
        assert_eq!(s.write(|w| w.sweep_session_codes(UnixMillis::from_millis(200), 100)).unwrap(), 0);
        assert!(s.read(|r| r.family("f")).unwrap().is_some());
        // A token spent at 150 goes once `before` passes it; the unspent one stays.
        s.write(|w| {
            let mut e = entry("f");
            e.spent_at = Some(UnixMillis::from_millis(150));
            w.put_refresh(b"t1", &e)
        })
        .unwrap();
        assert_eq!(s.write(|w| w.sweep_spent_refresh(UnixMillis::from_millis(150), 100)).unwrap(), 0);
        assert_eq!(s.write(|w| w.sweep_spent_refresh(UnixMillis::from_millis(151), 100)).unwrap(), 1);
        assert!(s.read(|r| r.refresh(b"t1")).unwrap().is_none());
        assert!(s.read(|r| r.refresh(b"t2")).unwrap().is_some());
        assert_eq!(s.write(|w| w.sweep_spent_refresh(UnixMillis::from_millis(i64::MAX), 100)).unwrap(), 0);
        // At their time, the family (with its tokens) and the code go.
        assert_eq!(s.write(|w| w.sweep_families(UnixMillis::from_millis(301), 100)).unwrap(), 1);
        assert_eq!(s.write(|w| w.sweep_session_codes(UnixMillis::from_millis(300), 100)).unwrap(), 1);
        assert!(s.read(|r| r.refresh(b"t2")).unwrap().is_none());
        assert_eq!(s.read(|r| r.family_count()).unwrap(), 0);
        assert_eq!(s.write(|w| w.sweep_families(UnixMillis::from_millis(i64::MAX), 100)).unwrap(), 0);
        assert_eq!(s.write(|w| w.sweep_session_codes(UnixMillis::from_millis(i64::MAX), 100)).unwrap(), 0);
    }

    a_session_code_is_redeemed_once(s) {
        s.write(|w| w.put_session_code(b"c", &code("a@example.com", i64::MAX / 2)))
            .unwrap();
        let won = race(s, 8, |_| Box::new(|w| w.delete_session_code(b"c"))).await;
        assert_eq!(won, 1);
    }

    numbers_are_unique_under_races(s) {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        race(s, 20, move |_| {
            let seen = seen2.clone();
            Box::new(move |w| {
                let n = w.allocate_user_num()?;
                seen.lock().unwrap().push(n);
                Ok(true)
            })
        })
        .await;
        // Plans that ran again left a number behind in a transaction that never
        // committed; the committed ones are distinct.
        let next = s.write(|w| w.allocate_user_num()).unwrap();
        assert_eq!(next, 21, "twenty committed allocations, then the next");
    }

    a_failed_plan_leaves_nothing(s) {
        let r: Result<(), StoreError> = s.write(|w| {
            let mut u = user("a", "a@example.com", "a");
            u.num = w.allocate_user_num()?;
            w.insert_user(&u)?;
            Err(StoreError::Unsupported("changed my mind"))
        });
        assert!(r.is_err());
        assert_eq!(s.read(|r| r.user_count()).unwrap(), 0);
        assert_eq!(s.read(|r| r.user_id_by_email("a@example.com")).unwrap(), None);
        // Through commit: an aborting job commits nothing, a panicking one fails alone.
        let job: latchkey_storage::Job = Box::new(|w| {
            w.insert_user(&user("b", "b@example.com", "b"))?;
            Err(latchkey_storage::Abort::Internal)
        });
        assert!(s.commit(job).await.unwrap().is_err());
        let job: latchkey_storage::Job = Box::new(|w| {
            w.insert_user(&user("p", "p@example.com", "p"))?;
            panic!("a bug in one request")
        });
        assert!(matches!(
            s.commit(job).await.unwrap(),
            Err(latchkey_storage::Abort::Panicked)
        ));
        assert_eq!(s.read(|r| r.user_count()).unwrap(), 0);
        let job: latchkey_storage::Job = Box::new(|w| {
            let mut u = user("c", "c@example.com", "c");
            u.num = w.allocate_user_num()?;
            w.insert_user(&u)?;
            Ok(())
        });
        s.commit(job).await.unwrap().unwrap();
        assert_eq!(s.read(|r| r.user_count()).unwrap(), 1);
    }

    a_plan_reads_what_it_wrote(s) {
        let a = add(s, &user("a", "a@example.com", "a")).unwrap();
        s.write(|w| {
            w.put_family(&family("f", &a.id, 1000))?;
            w.put_refresh(b"r", &entry("f"))?;
            assert_eq!(w.family("f")?.unwrap().expires_at, UnixMillis::from_millis(1000));
            assert_eq!(w.refresh(b"r")?.unwrap().family_id, "f");
            assert_eq!(w.family_ids_of_user(&a.id)?, vec!["f".to_string()]);
            let mut u = w.user("a")?.unwrap();
            u.role = "admin".into();
            w.update_user(&u)?;
            assert_eq!(w.user("a")?.unwrap().role, "admin");
            Ok::<_, StoreError>(())
        })
        .unwrap();
        assert_eq!(s.read(|r| r.user("a")).unwrap().unwrap().role, "admin");
    }

    a_refresh_chain_reads_the_entry_its_family_and_their_user(s) {
        let a = add(s, &user("a", "a@example.com", "a")).unwrap();
        s.write(|w| {
            w.put_family(&family("f", &a.id, 1000))?;
            w.put_refresh(b"r", &entry("f"))?;
            w.put_family(&family("orphan", "nobody", 1000))?;
            w.put_refresh(b"o", &entry("orphan"))?;
            w.put_refresh(b"swept", &entry("gone"))?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        s.read(|r| {
            let c = r.refresh_chain(b"r")?.unwrap();
            assert_eq!(c.entry, entry("f"));
            assert_eq!(c.family.unwrap().id, "f");
            assert_eq!(c.user.unwrap().id, "a");
            let c = r.refresh_chain(b"o")?.unwrap();
            assert_eq!((c.family.unwrap().id.as_str(), c.user), ("orphan", None));
            let c = r.refresh_chain(b"swept")?.unwrap();
            assert_eq!((c.family, c.user), (None, None));
            assert_eq!(r.refresh_chain(b"unknown")?, None);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }

    a_plan_that_panics_after_writing_leaves_nothing_and_the_store_goes_on(s) {
        add(s, &user("a", "a@example.com", "a")).unwrap();
        // More panics than the pool has connections: none may go back to the pool inside
        // its transaction.
        for i in 0..40 {
            let s = s.clone();
            let panicked = std::thread::spawn(move || {
                s.write(|w| {
                    w.put_family(&family(&format!("g{i}"), "a", 1000))?;
                    w.put_refresh(format!("r{i}").as_bytes(), &entry(&format!("g{i}")))?;
                    // The writes went out with this read; then a bug.
                    if w.family(&format!("g{i}"))?.is_some() {
                        panic!("a bug after a write");
                    }
                    Ok::<_, StoreError>(())
                })
            })
            .join();
            assert!(panicked.is_err());
        }
        assert!(s.read(|r| r.family_ids_of_user("a")).unwrap().is_empty());
        s.write(|w| w.put_family(&family("h", "a", 1000))).unwrap();
        assert_eq!(s.read(|r| r.family_ids_of_user("a")).unwrap(), vec!["h".to_string()]);
        assert_eq!(s.read(|r| r.refresh(b"r0")).unwrap(), None);
    }

    expired_things_are_swept(s) {
        let a = add(s, &user("a", "a@example.com", "a")).unwrap();
        s.write(|w| {
            w.put_family(&family("old", &a.id, 10))?;
            w.put_refresh(b"o", &entry("old"))?;
            w.put_family(&family("new", &a.id, 1000))?;
            w.put_refresh(b"n", &entry("new"))?;
            w.put_session_code(b"c1", &code("a@example.com", 10))?;
            w.put_session_code(b"c2", &code("a@example.com", 1000))?;
            w.put_mfa_pending(
                b"m",
                &MfaPendingRecord {
                    user_id: a.id.clone(),
                    amr: vec![],
                    created_at: UnixMillis::from_millis(1),
                    expires_at: UnixMillis::from_millis(10),
                    failures: 0,
                },
            )?;
            w.put_proof(
                ProofPurpose::VerifyEmail,
                &a.id,
                &ProofRecord {
                    code_hash: "x".into(),
                    email: "a@example.com".into(),
                    created_at: UnixMillis::from_millis(1),
                    expires_at: UnixMillis::from_millis(1000),
                    failures: 0,
                },
            )
        })
        .unwrap();
        assert_eq!(s.write(|w| w.sweep_families(UnixMillis::from_millis(100), 100)).unwrap(), 1);
        assert_eq!(s.write(|w| w.sweep_session_codes(UnixMillis::from_millis(100), 100)).unwrap(), 1);
        assert_eq!(s.write(|w| w.sweep_challenges(UnixMillis::from_millis(100), 100)).unwrap(), 1);
        s.read(|r| {
            assert!(r.family("old")?.is_none() && r.refresh(b"o")?.is_none());
            assert!(r.family("new")?.is_some() && r.refresh(b"n")?.is_some());
            assert_eq!(r.family_ids_of_user(&a.id)?, vec!["new".to_string()]);
            assert!(r.session_code(b"c1")?.is_none() && r.session_code(b"c2")?.is_some());
            assert!(r.mfa_pending(b"m")?.is_none());
            assert!(r.proof(ProofPurpose::VerifyEmail, &a.id)?.is_some());
            Ok::<_, StoreError>(())
        })
        .unwrap();
        assert_eq!(s.write(|w| w.delete_session_codes_of("A@example.com")).unwrap(), 1);
    }

    grants_are_kept_replaced_and_swept(s) {
        let grant = |expires_at: i64, redeemed: Option<&str>| GrantRecord {
            client_id: "app".into(),
            scope: "openid email".into(),
            user_id: "u".into(),
            auth_time: UnixMillis::from_millis(1),
            amr: vec!["pwd".into()],
            nonce: Some("n".into()),
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: Some("c".repeat(43)),
            created_at: UnixMillis::from_millis(1),
            expires_at: UnixMillis::from_millis(expires_at),
            redeemed: redeemed.map(Into::into),
        };
        s.write(|w| {
            w.put_grant(b"old", &grant(10, None))?;
            w.put_grant(b"new", &grant(1000, None))
        })
        .unwrap();
        // Replaced (redeemed, kept longer): the old expiry no longer sweeps it.
        s.write(|w| w.put_grant(b"new", &grant(2000, Some("fam")))).unwrap();
        assert_eq!(
            s.read(|r| r.grant(b"new")).unwrap().unwrap().redeemed.as_deref(),
            Some("fam")
        );
        assert_eq!(s.write(|w| w.sweep_challenges(UnixMillis::from_millis(1500), 100)).unwrap(), 1);
        s.read(|r| {
            assert!(r.grant(b"old")?.is_none());
            assert!(r.grant(b"new")?.is_some());
            Ok::<_, StoreError>(())
        })
        .unwrap();
        s.write(|w| w.delete_grant(b"new")).unwrap();
        assert!(s.read(|r| r.grant(b"new")).unwrap().is_none());
        assert_eq!(s.write(|w| w.sweep_challenges(UnixMillis::from_millis(5000), 100)).unwrap(), 0);
    }

    a_passkey_belongs_to_one_account(s) {
        let a = add(s, &user("a", "a@example.com", "a")).unwrap();
        let b = add(s, &user("b", "b@example.com", "b")).unwrap();
        s.write(|w| {
            w.insert_passkey(&passkey(b"k1", &a.id, 2))?;
            w.insert_passkey(&passkey(b"k2", &a.id, 1))
        })
        .unwrap();
        // Taken, by another account or the same one: refused, nothing written.
        for owner in [&b.id, &a.id] {
            let taken = s.write(|w| w.insert_passkey(&passkey(b"k1", owner, 3)));
            assert!(matches!(taken, Err(StoreError::CredentialTaken)), "{taken:?}");
        }
        let ids = |r: &dyn latchkey_storage::Read, u: &str| -> Vec<Vec<u8>> {
            r.passkeys_of(u).unwrap().into_iter().map(|p| p.id).collect()
        };
        s.read(|r| {
            assert_eq!(ids(r, &a.id), vec![b"k2".to_vec(), b"k1".to_vec()]);
            assert!(ids(r, &b.id).is_empty());
            assert_eq!(r.passkey(b"k1")?.unwrap().user_id, a.id);
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let mut renamed = passkey(b"k1", &a.id, 2);
        renamed.name = "laptop".into();
        renamed.last_used_at = Some(UnixMillis::from_millis(9));
        s.write(|w| w.update_passkey(&renamed)).unwrap();
        assert_eq!(s.read(|r| r.passkey(b"k1")).unwrap().unwrap(), renamed);
        assert!(s.write(|w| w.delete_passkey(b"k2")).unwrap());
        assert!(!s.write(|w| w.delete_passkey(b"k2")).unwrap());
        // A deleted account takes its passkeys along: the id is free again.
        assert!(s.write(|w| w.delete_user(&a.id)).unwrap());
        assert!(s.read(|r| r.passkey(b"k1")).unwrap().is_none());
        s.write(|w| w.insert_passkey(&passkey(b"k1", &b.id, 3))).unwrap();
        let owned = s.read(|r| Ok::<_, StoreError>(ids(r, &b.id))).unwrap();
        assert_eq!(owned, vec![b"k1".to_vec()]);
    }

    concurrent_registrations_of_one_credential_make_one_passkey(s) {
        for i in 0..4 {
            add(s, &user(&format!("u{i}"), &format!("u{i}@example.com"), &format!("u{i}"))).unwrap();
        }
        let won = race(s, 4, |i| {
            Box::new(move |w| {
                if w.passkey(b"same")?.is_some() {
                    return Ok(false);
                }
                match w.insert_passkey(&passkey(b"same", &format!("u{i}"), 1)) {
                    Ok(()) => Ok(true),
                    Err(StoreError::CredentialTaken) => Ok(false),
                    Err(e) => Err(e),
                }
            })
        })
        .await;
        assert_eq!(won, 1);
        let owners: usize = s
            .read(|r| {
                (0..4)
                    .map(|i| r.passkeys_of(&format!("u{i}")).map(|p| p.len()))
                    .sum::<Result<usize, _>>()
            })
            .unwrap();
        assert_eq!(owners, 1);
    }

    a_ceremony_is_spent_once_under_races_and_swept(s) {
        let ceremony = |expires_at| CeremonyRecord {
            user_id: None,
            state: "{}".into(),
            created_at: UnixMillis::from_millis(1),
            expires_at,
        };
        s.write(|w| {
            w.put(b"c", &ceremony(UnixMillis::from_millis(1000)))?;
            w.put(b"old", &ceremony(UnixMillis::from_millis(10)))
        })
        .unwrap();
        let won = race(s, 8, |_| {
            Box::new(|w| Ok(w.delete::<CeremonyRecord>(b"c")?.is_some()))
        })
        .await;
        assert_eq!(won, 1);
        let get = |k: &'static [u8]| s.read(|r| r.get::<CeremonyRecord>(k)).unwrap();
        assert!(get(b"c").is_none());
        assert_eq!(get(b"old").unwrap().expires_at, UnixMillis::from_millis(10));
        assert_eq!(s.write(|w| w.sweep_challenges(UnixMillis::from_millis(500), 100)).unwrap(), 1);
        assert!(get(b"old").is_none());
        assert_eq!(s.write(|w| w.sweep_challenges(UnixMillis::from_millis(5000), 100)).unwrap(), 0);
    }

    the_table_layer_keeps_a_kind_with_its_indexes_on_every_backend(s) {
        // A kind of the tests' own: one type and a table name, nothing in the backends.
        let n = |owner: &str, tag: &str| Note {
            owner: owner.into(),
            tag: tag.into(),
            expires_at: None,
        };
        s.write(|w| {
            w.put(b"1", &n("ann", "x"))?;
            w.put(b"2", &n("ann", "y"))?;
            w.put(b"3", &n("bob", "z"))
        })
        .unwrap();
        s.read(|r| {
            assert_eq!(r.get::<Note>(b"2")?.unwrap().tag, "y");
            let anns: Vec<Vec<u8>> = r.find::<Note>("note_owner", b"ann")?.into_iter().map(|(k, _)| k).collect();
            assert_eq!(anns, [b"1".to_vec(), b"2".to_vec()]);
            assert_eq!(r.find_unique::<Note>("note_tag", b"z")?.unwrap().1.owner, "bob");
            let page: Vec<Vec<u8>> = r.scan::<Note>(Some(b"1"), 1)?.into_iter().map(|(k, _)| k).collect();
            assert_eq!(page, [b"2".to_vec()]);
            Ok::<_, StoreError>(())
        })
        .unwrap();
        // A unique entry belongs to one record: refused, and nothing of the plan stays.
        match s.write(|w| w.put(b"4", &n("cy", "x"))) {
            Err(StoreError::Taken(index)) => assert_eq!(index, "note_tag"),
            other => panic!("{other:?}"),
        }
        assert!(s.read(|r| r.get::<Note>(b"4")).unwrap().is_none());
        // Replacing a record moves its index entries; its own unique entry stays its own.
        s.write(|w| w.put(b"1", &n("bob", "x"))).unwrap();
        s.read(|r| {
            assert_eq!(r.find::<Note>("note_owner", b"ann")?.len(), 1);
            assert_eq!(r.find::<Note>("note_owner", b"bob")?.len(), 2);
            Ok::<_, StoreError>(())
        })
        .unwrap();
        // Two plans claiming one unique entry at once: one wins.
        let won = race(s, 8, |i| {
            Box::new(move |w| {
                let key = format!("r{i}");
                match w.put(key.as_bytes(), &n("race", "shared")) {
                    Ok(()) => Ok(true),
                    Err(StoreError::Taken(_)) => Ok(false),
                    Err(e) => Err(e),
                }
            })
        })
        .await;
        assert_eq!(won, 1);
        // Deleting frees its entries.
        s.write(|w| w.delete::<Note>(b"3")).unwrap();
        s.write(|w| w.put(b"5", &n("dee", "z"))).unwrap();
        // Counters count atomically.
        let counted = race(s, 8, |_| Box::new(|w| Ok(w.counter_add("notes", 1)? > 0))).await;
        assert_eq!(counted, 8);
        assert_eq!(s.read(|r| r.counter("notes")).unwrap(), 8);
        // What is due, in time order, and nothing else.
        s.write(|w| {
            w.put(b"e1", &Note { expires_at: Some(20), ..n("eve", "e1") })?;
            w.put(b"e2", &Note { expires_at: Some(10), ..n("eve", "e2") })
        })
        .unwrap();
        let due = s.read(|r| r.due(Note::TABLE, UnixMillis::from_millis(15), 10)).unwrap();
        assert_eq!(due, [(UnixMillis::from_millis(10), b"e2".to_vec())]);
        // Everything goes along in a copy, indexes included.
        let (to, _keep) = store("redb");
        latchkey_storage::copy(s, &to, &mut |_| {}).unwrap();
        to.read(|r| {
            assert_eq!(r.find::<Note>("note_owner", b"bob")?.len(), 1);
            assert_eq!(r.find_unique::<Note>("note_tag", b"z")?.unwrap().1.owner, "dee");
            assert_eq!(r.counter("notes")?, 8);
            assert_eq!(r.due(Note::TABLE, UnixMillis::from_millis(15), 10)?.len(), 1);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }

    groups_lose_their_members_with_the_user_or_the_group(s) {
        let ann = add(s, &user("ann", "ann@example.com", "ann")).unwrap();
        let bob = add(s, &user("bob", "bob@example.com", "bob")).unwrap();
        let at = UnixMillis::from_millis(1);
        s.write(|w| {
            for g in ["family", "admins"] {
                let rec = GroupRecord { name: g.into(), description: None, created_at: at };
                w.put(g.as_bytes(), &rec)?;
            }
            for (g, u) in [("family", &ann.id), ("admins", &ann.id), ("family", &bob.id)] {
                let m = MemberRecord { group: g.into(), user_id: u.clone(), added_at: at };
                w.put(&MemberRecord::key(g, u), &m)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
        assert_eq!(s.read(|r| groups_of(r, &ann.id)).unwrap(), ["admins", "family"]);
        assert_eq!(s.read(|r| members_of(r, "family")).unwrap().len(), 2);
        // The user goes: so do its memberships, whatever deleted it.
        s.write(|w| w.delete_user(&ann.id)).unwrap();
        assert!(s.read(|r| groups_of(r, &ann.id)).unwrap().is_empty());
        assert_eq!(s.read(|r| members_of(r, "family")).unwrap(), std::slice::from_ref(&bob.id));
        assert!(s.read(|r| members_of(r, "admins")).unwrap().is_empty());
        // The group goes: so do its memberships.
        assert!(s.write(|w| delete_group(w, "family")).unwrap());
        assert!(!s.write(|w| delete_group(w, "family")).unwrap());
        assert!(s.read(|r| groups_of(r, &bob.id)).unwrap().is_empty());
        assert!(s.read(|r| r.get::<GroupRecord>(b"admins")).unwrap().is_some());
    }

    keys_and_settings(s) {
        let key = |kid: &str, at: i64| SigningKeyRecord {
            kid: kid.into(),
            alg: "EdDSA".into(),
            secret: vec![1, 2, 3],
            created_at: UnixMillis::from_millis(at),
            retired_at: None,
        };
        s.write(|w| {
            w.put_key(&key("b", 2))?;
            w.put_key(&key("a", 1))?;
            w.set_server_key_check(b"check")
        })
        .unwrap();
        let kids: Vec<String> = s.read(|r| r.keys()).unwrap().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, vec!["a", "b"]);
        s.write(|w| w.delete_key("a")).unwrap();
        assert_eq!(s.read(|r| r.keys()).unwrap().len(), 1);
        s.read(|r| {
            assert_eq!(r.server_key_check()?.as_deref(), Some(&b"check"[..]));
            assert_eq!(r.schema_version()?, SCHEMA_VERSION);
            assert!(!r.holds_sealed_data()?);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }
}

/// A node reads its own writes: its subscribers hear a change as soon as the write that
/// made it commits, not when the database's notice comes back (a user who changed their
/// address and asked for themselves at once got the old one).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_tells_this_nodes_subscribers_when_its_own_write_commits() {
    let (s, _keep) = store("postgres");
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ear = heard.clone();
    s.subscribe(move |c| ear.lock().unwrap().push(format!("{c:?}")));
    let mut u = add(&s, &user("me", "me@example.com", "me")).unwrap();
    heard.lock().unwrap().clear();
    u.email = Some("me@new.example".into());
    s.write(|w| w.change_email(&u)).unwrap();
    assert!(
        heard.lock().unwrap().iter().any(|c| c.contains("\"me\"")),
        "{:?}",
        heard.lock().unwrap()
    );
}

/// On PostgreSQL a failed statement ends the transaction, and a `COMMIT` after it answers
/// as a rollback without an error: a plan that goes on after a failure must not be told
/// that it committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_plan_that_goes_on_after_a_failed_statement_is_not_committed() {
    let (s, _keep) = store("postgres");
    let a = add(&s, &user("a", "a@example.com", "a")).unwrap();
    let r = s.write(|w| {
        w.put_family(&family("f", "a", 1000))?;
        // The same id again (the email and name are new): the primary key refuses it,
        // and the plan shrugs.
        let mut again = user("a", "b@example.com", "b");
        again.num = a.num + 100;
        let _ = w.insert_user(&again).and_then(|()| w.user_count());
        Ok::<_, StoreError>(())
    });
    assert!(matches!(r, Err(StoreError::Aborted)), "{r:?}");
    assert!(s.read(|r| r.family("f")).unwrap().is_none());
}

/// A database made before families' expiry was indexed by the hour (an index on
/// `expires_at`, which every rotation moved) gets the new column and index when a node
/// connects, and its families are still swept when they expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_an_older_layout_of_families_is_brought_up_to_date() {
    let url = latchkey_storage::testing::new_database().unwrap();
    let s = Store::connect(&url, 4).unwrap();
    add(&s, &user("a", "a@example.com", "a")).unwrap();
    s.write(|w| w.put_family(&family("f", "a", 7_200_500)))
        .unwrap();
    drop(s);
    let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    c.batch_execute(
        "DROP INDEX latchkey_families_expires_hour; \
         ALTER TABLE latchkey_families DROP COLUMN expires_hour; \
         CREATE INDEX latchkey_families_expiry ON latchkey_families (expires_at);",
    )
    .await
    .unwrap();
    let s = Store::connect(&url, 4).unwrap();
    let indexes: Vec<String> = c
        .query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'latchkey_families' \
             ORDER BY indexname",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        indexes,
        [
            "latchkey_families_expires_hour",
            "latchkey_families_pkey",
            "latchkey_families_user"
        ]
    );
    assert_eq!(
        s.write(|w| w.sweep_families(UnixMillis::from_millis(7_200_500), 100))
            .unwrap(),
        0
    );
    assert_eq!(
        s.write(|w| w.sweep_families(UnixMillis::from_millis(7_200_501), 100))
            .unwrap(),
        1
    );
    drop(c);
    driver.await.unwrap().unwrap();
}

/// A pooled connection that the server closed while it sat idle (a restart, an
/// administrator's `pg_terminate_backend`, an idle timeout) is replaced before it is
/// used: the next request does not fail for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_connections_closed_while_idle_are_replaced_before_use() {
    let url = latchkey_storage::testing::new_database().unwrap();
    let s = Store::connect(&url, 4).unwrap();
    add(&s, &user("a", "a@example.com", "a")).unwrap();
    let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    let ended = c
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(!ended.is_empty());
    // The server closes them at once; give the sockets a moment to say so.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for _ in 0..8 {
        assert!(s.read(|r| r.user("a")).unwrap().is_some());
    }
    s.write(|w| w.put_family(&family("f", "a", 1000))).unwrap();
    drop(c);
    driver.await.unwrap().unwrap();
}
