use ustd::ustctl::*;
#[test]
fn smoke() {
    let ctl = UstCtl::load().unwrap();
    eprintln!("{ctl:?}");
    let spec = ChannelSpec {
        subbuf_size: 4096,
        num_subbuf: 4,
        overwrite: false,
        switch_timer_us: 0,
        read_timer_us: 0,
        blocking_timeout_us: 0,
        chan_id: 0,
        uuid: [7; 16],
    };
    let ch = BufferChannel::create(&ctl, &spec).unwrap();
    let objs = ch.app_objects().unwrap();
    eprintln!("blob {} streams {:?}", objs.blob.len(), objs.streams);
    let md = MetadataChannel::create(&ctl, [7; 16]).unwrap();
    let c = Consumer::start(ctl.clone(), "t").unwrap();
    let dir = std::env::temp_dir().join("ustctl-smoke");
    let _ = std::fs::remove_dir_all(&dir);
    let t = c.add_trace(&dir, md).unwrap();
    c.add_channel(t, "channel0", ch).unwrap();
    c.push_metadata(t, 0, b"/* CTF 1.8 */\nhello\n").unwrap();
    c.close().unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        eprintln!("{:?} {}", e.path(), e.metadata().unwrap().len());
    }
}
