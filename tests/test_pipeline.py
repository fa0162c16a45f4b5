from __future__ import annotations

import threading
import time

from device.core.coach import Coach
from device.core.synth import Session, session_track
from device.service.hub import StateHub
from device.service.pipeline import Mailbox, Pipeline, Processor
from device.vision.sources import Frame, ReplaySource
from device.vision.tracks import Track
from tests.fakes import ManualClock, StallingCamera


def test_mailbox_keeps_only_the_newest_frame():
    box = Mailbox()
    for i in range(1000):
        box.put(Frame(t_s=i))
    assert box.take(0.1).t_s == 999
    assert box.dropped == 999
    assert box.take(0.01) is None


def test_pipeline_always_processes_the_newest_frame_and_reports_health():
    kp, t, size = session_track(Session(reps=3))
    hub = StateHub()
    source = ReplaySource(Track(kp, t, size), realtime=False, name="synthetic")
    pipeline = Pipeline(source, Processor(None, Coach(), hub, extra={"source": "synthetic"}))
    pipeline.start()
    deadline = time.monotonic() + 10
    while not pipeline.source_ended and time.monotonic() < deadline:
        time.sleep(0.01)
    pipeline.stop()
    _, snap = hub.latest()
    # Frames may be dropped when processing lags; the last one is always processed.
    assert snap["source"] == "synthetic"
    assert snap["t_s"] == round(float(t[-1]), 3)
    health = pipeline.health()
    assert health["ok"] and health["camera"]["ended"]
    assert health["pipeline"]["frames"] + health["pipeline"]["dropped"] == len(t)


def test_realtime_replay_keeps_the_recordings_pace():
    kp, t, size = session_track(Session(reps=0, lead_s=0.5, tail_s=0.0, fps=30))
    src = ReplaySource(Track(kp, t, size), realtime=True)
    t0 = time.monotonic()
    n = sum(1 for _ in src.frames())
    elapsed = time.monotonic() - t0
    assert n == len(t)
    assert elapsed >= t[-1] * 0.9


def wait_until(what, timeout_s: float = 10.0) -> None:
    """Until `what()` holds; a generous bound only so that a failure cannot hang."""
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_camera_that_stalls_is_shown_unavailable_within_3_s_and_recovers():
    """A live camera that sends nothing for camera_stale_s (2 s on the clock) is
    unavailable, and the person is forgotten; said within 3 s, as the pose
    thread looks at the clock after each half-second wait for a frame."""
    hub = StateHub()
    clock = ManualClock()
    camera = StallingCamera(clock, stall_at_s=2.0)
    pipeline = Pipeline(camera, Processor(None, Coach(), hub), clock=clock)
    pipeline.start()

    def camera_state():
        snap = hub.latest()[1]
        return snap and (snap["camera"], snap["present"])

    try:
        wait_until(lambda: camera.stalled.is_set() and camera_state() == ("ok", True))
        last = pipeline.last_frame_s
        assert last < 2.0
        clock.set(last + 1.9)  # not yet stale: two of the pose thread's waits go by
        time.sleep(1.2)
        assert camera_state() == ("ok", True)
        clock.set(last + 2.1)
        wait_until(lambda: camera_state() == ("unavailable", False), timeout_s=3.0)
        camera.resume.set()  # frames again: the person is back on the glass
        wait_until(lambda: camera_state() == ("ok", True))
    finally:
        pipeline.stop()


def test_the_optional_skeleton_is_keypoints_only_and_off_by_default():
    kp, t, size = session_track(Session(reps=0, lead_s=1.0, tail_s=0.0))
    for skeleton in (False, True):
        hub = StateHub()
        processor = Processor(None, Coach(), hub, skeleton=skeleton)
        for k, ts in zip(kp, t, strict=True):
            processor.process(Frame(t_s=float(ts), keypoints=k, size=size))
        _, snap = hub.latest()
        if not skeleton:
            assert "skeleton" not in snap
            continue
        points = snap["skeleton"]
        assert len(points) == 17 and all(p is not None for p in points)
        # Normalized to the frame, where the keypoints were: (x, y) = (kp x, kp y).
        assert abs(points[11][0] - float(kp[-1, 11, 1])) < 0.02
        assert abs(points[11][1] - float(kp[-1, 11, 0])) < 0.02


def test_what_the_device_does_is_stored(tmp_path):
    # Coach events from the processor into the store, and the camera's own events.
    from device.store import Recorder

    rec = Recorder(tmp_path / "device.db")
    kp, t, size = session_track(Session(reps=3, tail_s=1.0))
    processor = Processor(None, Coach(), StateHub())
    for k, ts in zip(kp, t, strict=True):
        rec.on_events(processor.process(Frame(t_s=float(ts), keypoints=k, size=size)))
    assert rec.conn.execute("SELECT reps FROM sessions").fetchall() == [(3,)]
    clock = ManualClock()
    camera = StallingCamera(clock)
    pipeline = Pipeline(camera, Processor(None, Coach(), StateHub()), clock=clock,
                        on_events=rec.on_events, on_device_event=rec.device_event)
    pipeline.start()
    try:
        wait_until(camera.stalled.is_set)
        clock.set(5.0)  # 3 s without a frame
        wait_until(lambda: pipeline.camera_lost)
        camera.resume.set()
        wait_until(camera.ended.is_set)
        wait_until(lambda: not pipeline.camera_lost)
    finally:
        pipeline.stop()
    kinds = [k for (k,) in rec.conn.execute("SELECT kind FROM events ORDER BY id")]
    assert kinds == ["camera_lost", "camera_back"]


class _RecordingPose:
    """A pose 'model' that logs when it runs."""

    runtime, threads, mode = "fake", 1, "crop"

    def __init__(self, log: list) -> None:
        self.log, self.kp = log, session_track(Session(view="side", reps=1))[0][0]

    def estimate(self, image, bgr=False):
        n = int(image[0, 0, 0])
        self.log.append(("invoke", n))
        time.sleep(0.03)  # the warp and the invoke: the coach thread runs meanwhile
        return self.kp


class _HubLog(StateHub):
    def __init__(self, log: list) -> None:
        super().__init__()
        self.log = log

    def publish(self, value):
        self.log.append(("snapshot", round(value["t_s"] * 10)))
        return super().publish(value)


class _Frames:
    """Frames numbered in their first pixel; each waits until the last was taken,
    or, with `gap_s`, comes that long after it (a camera slower than the model)."""

    live = False
    name = "numbered frames"

    def __init__(self, n: int, gap_s: float = 0.0) -> None:
        import numpy as np

        self.n, self.gap_s, self.np, self.mailbox = n, gap_s, np, None

    def frames(self):
        for i in range(self.n):
            if self.gap_s:
                time.sleep(self.gap_s)
            else:
                self.mailbox.wait_taken(5.0)
            image = self.np.full((4, 4, 3), i, self.np.uint8)
            yield Frame(t_s=i / 10, image=image, size=(480, 640))

    def close(self) -> None:
        pass


def _run(source, log) -> StateHub:
    hub = _HubLog(log)
    pipeline = Pipeline(source, Processor(_RecordingPose(log), Coach(), hub))
    source.mailbox = pipeline.mailbox
    pipeline.start()
    deadline = time.monotonic() + 20
    # Every frame's snapshot, then the one that says the recording has ended.
    while (hub.latest()[1] or {}).get("camera") != "ended" and time.monotonic() < deadline:
        time.sleep(0.01)
    pipeline.stop()
    return hub


def test_every_frames_keypoints_reach_the_coach_in_order_and_none_is_lost():
    log: list = []
    hub = _run(_Frames(30), log)
    seq, last = hub.latest()  # every frame's snapshot, then the recording's end
    assert seq == 31 and last["camera"] == "ended"
    # In order, the last frame's twice: its own, and the end's.
    assert [n for kind, n in log if kind == "snapshot"] == [*range(30), 29]


def test_a_frames_keypoints_are_not_held_back_for_the_next_frame():
    """A camera slower than the model: each frame's snapshot comes before the next
    frame's invoke, not with it."""
    log: list = []
    _run(_Frames(8, gap_s=0.15), log)
    for n in range(7):
        assert log.index(("snapshot", n)) < log.index(("invoke", n + 1)), log


def test_a_bgr_frame_reaches_the_pose_model_as_bgr_and_an_rgb_one_without_the_word():
    """OpenCV's frames stay B, G, R (Frame.bgr): the processor must say so to the
    model, and say nothing otherwise."""
    import numpy as np

    kp = session_track(Session(view="side", reps=1))[0][0]
    seen = []

    class Pose:
        runtime, threads, mode = "fake", 1, "crop"

        def estimate(self, image, **kw):
            seen.append(kw.get("bgr"))
            return kp

    proc = Processor(Pose(), Coach(), StateHub())
    image = np.zeros((4, 4, 3), np.uint8)
    for bgr in (True, False):
        proc.estimate(Frame(t_s=0.0, image=image, size=(480, 640), bgr=bgr))
    assert seen == [True, None]


def test_wait_taken_wakes_on_a_take_times_out_without_one_and_wakes_on_close():
    """The bench's and tests' sources wait for each frame to be taken: the take
    wakes them (by a token, not a notify); no take, no wake-up until the time
    is up; closing the mailbox wakes them too."""
    import threading

    box = Mailbox()
    assert box.wait_taken(0.01)  # empty: nothing to wait for
    box.put(Frame(t_s=0.0))
    t0 = time.monotonic()
    assert not box.wait_taken(0.2)  # nobody took it
    assert time.monotonic() - t0 >= 0.15
    taker = threading.Timer(0.1, lambda: box.take(1.0))
    taker.start()
    t0 = time.monotonic()
    assert box.wait_taken(5.0)
    assert time.monotonic() - t0 < 2.0  # woken by the take, not the timeout
    taker.join()
    box.put(Frame(t_s=1.0))
    closer = threading.Timer(0.1, box.close)
    closer.start()
    t0 = time.monotonic()
    assert box.wait_taken(5.0) and box.closed
    assert time.monotonic() - t0 < 2.0
    closer.join()


def test_a_token_left_from_a_timed_out_wait_does_not_end_the_next_wait_early():
    """A take just after a watcher gave up leaves a token behind: the next
    wait must still wait for its own frame to be taken."""
    import threading

    box = Mailbox()
    box.put(Frame(t_s=0.0))
    assert not box.wait_taken(0.05)
    box._taken.put(None)  # the stale token such a late take leaves
    box.take(0.1)
    box.put(Frame(t_s=1.0))
    t0 = time.monotonic()
    assert not box.wait_taken(0.2)  # the stale token is not this frame's take:
    assert time.monotonic() - t0 >= 0.15  # it waited on, for the time it was given
    threading.Timer(0.05, lambda: box.take(1.0)).start()
    assert box.wait_taken(5.0)


def test_one_take_wakes_every_source_waiting_for_it():
    import threading

    box = Mailbox()
    box.put(Frame(t_s=0.0))
    woke = []

    def wait():
        t0 = time.monotonic()
        woke.append((box.wait_taken(5.0), time.monotonic() - t0))

    waiters = [threading.Thread(target=wait) for _ in range(2)]
    for w in waiters:
        w.start()
    deadline = time.monotonic() + 5
    while box._watchers < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    box.take(0.1)
    for w in waiters:
        w.join(6.0)
    assert len(woke) == 2 and all(ok and took < 2.0 for ok, took in woke), woke


def test_health_says_how_busy_the_pose_model_is():
    """/healthz's model_busy: near 1 when frames wait for the model, well below
    when the model waits for a camera slower than it."""
    import numpy as np

    kp = session_track(Session(view="side", reps=1))[0][0]

    class Pose:
        runtime, threads, mode = "fake", 1, "crop"

        def estimate(self, image, bgr=False):
            time.sleep(0.02)
            return kp

    def busy(source) -> float:
        pipeline = Pipeline(source, Processor(Pose(), Coach(), StateHub()))
        source.mailbox = pipeline.mailbox
        pipeline.start()
        deadline = time.monotonic() + 20
        while pipeline.processor.frames < 25 and time.monotonic() < deadline:
            time.sleep(0.01)
        value = pipeline.health()["pipeline"]["model_busy"]
        pipeline.stop()
        return value

    class Waiting(_Frames):
        def frames(self):
            for f in super().frames():
                yield Frame(t_s=f.t_s, image=np.zeros((8, 8, 3), np.uint8), size=f.size)

    assert 0.6 < busy(Waiting(40)) <= 1.0  # each frame ready when the model is
    assert busy(Waiting(40, gap_s=0.1)) < 0.5  # a 10 fps camera, a 20 ms model
    assert Pipeline(Waiting(1), Processor(Pose(), Coach(), StateHub())).health()[
        "pipeline"]["model_busy"] is None  # nothing yet


def test_a_recording_that_runs_out_closes_its_set_and_session_and_says_so(tmp_path):
    """Issue 25, item 3: a video played as the camera ends; the set and the
    session close with the reason (not left open, the page looking live), the
    glass says the recording has ended, and health says no frames flow."""
    from device.store import Recorder

    kp, t, size = session_track(Session(reps=3, tail_s=0.5))  # ends mid-set, at a top

    class Clip:  # a recording, each frame once the last was taken (none dropped)
        live, name, mailbox = False, "clip.mp4", None

        def frames(self):
            for k, ts in zip(kp, t, strict=True):
                yield Frame(t_s=float(ts), keypoints=k, size=size)
                self.mailbox.wait_taken(5.0)

        def close(self):
            pass

    rec = Recorder(tmp_path / "s.db")
    hub = StateHub()
    clip = Clip()
    pipeline = Pipeline(clip, Processor(None, Coach(), hub), on_events=rec.on_events)
    clip.mailbox = pipeline.mailbox
    pipeline.start()
    wait_until(lambda: (hub.latest()[1] or {}).get("camera") == "ended")
    pipeline.stop()
    assert rec.conn.execute("SELECT reps, end_reason FROM sessions").fetchall() == [
        (3, "recording_ended")]
    assert rec.conn.execute("SELECT reps, end_reason FROM sets").fetchall() == [
        (3, "recording_ended")]
    snap = hub.latest()[1]
    assert snap["camera_text"] == "The recording has ended"
    health = pipeline.health()
    assert health["pipeline"]["fps"] == 0.0 and health["camera"]["ended"]
    assert health["camera"]["words"] == "The recording has ended"
    rec.close()


def test_a_stop_in_the_middle_of_a_recording_is_not_its_end(tmp_path):
    """A device stopped while a video plays (systemctl stop): the set and session
    are the store's to close as "stopped", not the recording's "recording_ended"."""
    kp, t, size = session_track(Session(reps=3, tail_s=0.5))

    class Clip:
        live, name, mailbox = False, "clip.mp4", None

        def __init__(self):
            self.reached = threading.Event()

        def frames(self):
            for i, (k, ts) in enumerate(zip(kp, t, strict=True)):
                yield Frame(t_s=float(ts), keypoints=k, size=size)
                self.mailbox.wait_taken(5.0)
                if i == len(t) // 2:
                    self.reached.set()

        def close(self):
            pass

    for _ in range(5):  # the stop races the end of the capture: a few tries
        events, hub, clip = [], StateHub(), Clip()
        pipeline = Pipeline(clip, Processor(None, Coach(), hub), on_events=events.extend)
        clip.mailbox = pipeline.mailbox
        pipeline.start()
        assert clip.reached.wait(10)
        pipeline.stop()
        assert not any(e.get("reason") == "recording_ended" for e in events)
        assert (hub.latest()[1] or {}).get("camera") != "ended"
