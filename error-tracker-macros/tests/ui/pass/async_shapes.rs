//! `async fn`s: free, methods, in traits, generic; spawned on tokio's
//! multi-thread runtime, so the tracked futures stay `Send`.
#![deny(warnings)]

use error_tracker::track_exception;
use std::time::Duration;

#[derive(Debug)]
pub struct Failed;

#[track_exception]
async fn plain(n: u32) -> u32 {
    let m = n + 1;
    tokio::task::yield_now().await;
    m
}

#[track_exception]
async fn fallible(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(n)
}

#[track_exception]
async fn borrows<'a>(s: &'a str, v: &mut Vec<u8>) -> &'a str {
    v.push(1);
    tokio::task::yield_now().await;
    s
}

#[track_exception]
async fn owned(s: String, items: Vec<u32>) -> usize {
    let n = items.len();
    tokio::task::yield_now().await;
    s.len() + n
}

#[track_exception]
async fn early_return(flag: bool) -> Result<(), Failed> {
    if flag {
        return Err(Failed);
    }
    Ok(())
}

#[track_exception]
async fn generic<T: Send>(v: T) -> T {
    tokio::task::yield_now().await;
    v
}

pub struct Service {
    base: u32,
}

impl Service {
    #[track_exception]
    pub async fn call(&self, x: u32) -> u32 {
        let y = self.base + x;
        tokio::task::yield_now().await;
        y
    }

    #[track_exception]
    pub async fn call_mut(&mut self, x: u32) -> u32 {
        self.base += x;
        self.base
    }

    #[track_exception]
    pub async fn consume(self) -> u32 {
        self.base
    }
}

trait Repo {
    fn load(&self, id: u32) -> impl std::future::Future<Output = Result<String, Failed>> + Send;
    async fn save(&self, id: u32) -> Result<(), Failed>;
}

pub struct Db;

impl Repo for Db {
    #[track_exception]
    async fn load(&self, id: u32) -> Result<String, Failed> {
        let key = id * 2;
        tokio::task::yield_now().await;
        if key == 0 { Err(Failed) } else { Ok(key.to_string()) }
    }

    #[track_exception]
    async fn save(&self, id: u32) -> Result<(), Failed> {
        if id == 0 { Err(Failed) } else { Ok(()) }
    }
}

#[track_exception]
async fn never_completes_early(n: u32) -> u32 {
    let total = plain(n).await + plain(n).await;
    total
}

#[track_exception]
fn returns_future(n: u32) -> impl std::future::Future<Output = u32> {
    async move { n }
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
    rt.block_on(async {
        assert_eq!(tokio::spawn(plain(1)).await.unwrap(), 2);
        assert_eq!(tokio::spawn(fallible("3")).await.unwrap().unwrap(), 3);
        assert_eq!(tokio::spawn(owned("ab".into(), vec![1])).await.unwrap(), 3);
        assert!(tokio::spawn(early_return(true)).await.unwrap().is_err());
        assert_eq!(tokio::spawn(generic(5u8)).await.unwrap(), 5);
        assert_eq!(tokio::spawn(async { Db.load(2).await }).await.unwrap().unwrap(), "4");
        assert!(Db.save(0).await.is_err());
        assert_eq!(tokio::spawn(never_completes_early(1)).await.unwrap(), 4);
        let mut v = Vec::new();
        assert_eq!(assert_send(borrows("s", &mut v)).await, "s");
        let mut s = Service { base: 1 };
        assert_eq!(assert_send(s.call(2)).await, 3);
        assert_eq!(s.call_mut(2).await, 3);
        assert_eq!(tokio::spawn(s.consume()).await.unwrap(), 3);
        assert_eq!(returns_future(4).await, 4);
    });
}
