"""One realistic, deterministic asset for the Fabric catalog (SPEC §2.1), for demos and tests.

    python -m tools.demo_asset --mongodb-url mongodb://127.0.0.1:27017 --db ApiDNA [--seed 2026]
    python -m tools.demo_asset --dump            # print the documents as Extended JSON, no database

The asset is a 12-minute interview (`/demo/interview.mov`, 23.976 fps) with a film restorer: a
transcript of two speakers, ~2,000 detected events, editors' comments and LLM insights, and chapter
markers. Its text is deliberately hostile to naive writers (quotes, commas, line breaks, `-->`, `|`,
formula-like values, five non-Latin scripts, emoji), and a handful of documents are broken the ways
SPEC §2.1 says real data is broken; `generate_demo_asset(seed).broken` names each one.

Loading is idempotent: every document of the demo repoGuid + fullPath is replaced, so running twice
leaves the same documents. Same seed, same documents, ObjectIds included.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import logging
import math
import os
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from bson import ObjectId
from pymongo.errors import AutoReconnect, OperationFailure, PyMongoError

COLLECTION_NAME = "catalogAIEnrichedTimelineEvents"
DEMO_REPO_GUID = "demo-repo"
DEMO_FULL_PATH = "/demo/interview.mov"
DEMO_FRAME_RATE = "24000/1001"
DEMO_DURATION_SECONDS = 723.5
DEFAULT_SEED = 2026
log = logging.getLogger("tools.demo_asset")

TRANSCRIPT_SEGMENTS = 250
EVENT_COUNT = 2000
# Detected events per type; `label` takes whatever the transcript-derived types leave of EVENT_COUNT.
VISUAL_COUNTS = {"face": 320, "object": 300, "ocr": 220, "logo": 80}
SHOT_COUNT = 96
SECONDARY_TOPICS = 20
DUPLICATED_SEGMENT = 100  # the transcript segment that the broken "duplicate" document repeats

_FRAME = Fraction(1001, 24000)  # one frame at DEMO_FRAME_RATE
_LAST_FRAME = math.floor(Fraction(DEMO_DURATION_SECONDS) / _FRAME)
_LAST_FRAME_TIME = float(_LAST_FRAME * _FRAME)  # rounding to the nearest frame could land past the end
# ObjectIds start with a creation time; a fixed, plausible one (2026-01-15 UTC) keeps them deterministic.
_ID_EPOCH = 1768435200

SPEAKERS = ("Speaker 1", "Speaker 2")  # interviewer, guest: diarization names, not people
INTERVIEWER, GUEST = "Sam Okafor", "Dana Levi"

# (question, answer sentences). The interview the transcript is cut from.
INTERVIEW: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Let's start simple. Can you tell us who you are and what you do here?",
        (
            "Sure. My name is Dana Levi, and I run the restoration lab at the Carmel Film Archive in Haifa.",
            "We look after about forty thousand reels, mostly sixteen millimetre, some thirty-five, and a surprising "
            "amount of Super 8.",
            "Most days I'm at the bench with a splicer and a magnifying loupe, which is less glamorous than it sounds.",
            "The rest of the time I'm writing grant applications, honestly.",
        ),
    ),
    (
        "How did you end up in film restoration?",
        (
            "Through my grandfather, really. He was a projectionist in a cinema on Herzl Street from 1958 until it "
            "closed.",
            "When I was eight he let me into the booth, and I remember the smell of the carbon arc lamps, this hot, "
            "metallic smell.",
            "He used to say, 'the film doesn't forgive you, so you'd better not make mistakes.'",
            "I studied chemistry first, because I thought that was the serious path, and then I came back to film.",
        ),
    ),
    (
        "What was the first project you worked on here?",
        (
            "A box of home movies that a family donated in 2009, shot between 1971 and 1976.",
            "Nobody had opened the cans in decades, and when we did, the smell of vinegar filled the whole room.",
            "That's vinegar syndrome, the acetate base breaking down, and it spreads to other reels nearby.",
            "We isolated the cans, scanned what we could in one week, and lost maybe ten percent of it.",
            "I still think about that ten percent.",
        ),
    ),
    (
        "For people who don't know, what is vinegar syndrome exactly?",
        (
            "It's a chemical reaction in cellulose acetate film; the base releases acetic acid as it degrades.",
            "The film shrinks, it curls, it becomes brittle, and eventually the emulsion just lifts off.",
            "Once it starts, you can slow it down with cold, dry storage, but you can't reverse it.",
            "So the only real answer is to copy it, to scan it, before it's gone.",
        ),
    ),
    (
        "Tell me about the Haifa reels. That's what brought us here.",
        (
            "Right, the Haifa reels are seven reels of a documentary about the port, shot in 1974 by a collective of "
            "young filmmakers.",
            "It was never finished, the collective split up, and the reels disappeared for almost fifty years.",
            'In 2021 a woman called us and said, "I think my late father\'s garage has your film in it."',
            "And it did. Reels one through five and reel seven, in rusty cans, labelled in Hebrew and Arabic.",
            "Reel six is still missing, which is the part everyone asks about.",
        ),
    ),
    (
        "Why labelled in two languages?",
        (
            "Because the collective was mixed, Jewish and Arab filmmakers working together, which was unusual then.",
            "The cans say 'נמל חיפה' on one side and 'ميناء حيفا' on the other, both meaning Haifa port.",
            "For me that detail is almost as important as the footage itself.",
            "It tells you who made this and how they saw the city.",
        ),
    ),
    (
        "What condition were they in when they arrived?",
        (
            "Honestly, better than I feared. Reel three was the worst, with mould on the edges and two broken splices.",
            'Someone had written "REEL 3 --> REEL 4" on the can in marker pen, which confused us for weeks.',
            "Reel seven had been stored upside down, so the bottom of the roll was crushed.",
            "We cleaned every reel by hand, frame by frame in places, before anything went near the scanner.",
            "That alone took four months.",
        ),
    ),
    (
        "Walk me through the workflow, from can to screen.",
        (
            "First we inspect on a rewind bench, and we log every damaged perforation and every splice.",
            "Then cleaning, repairs, and a humidity treatment for the reels that are curled.",
            "Then the scan, at 4K, on a scanner with a wet gate, which hides a lot of the fine scratches.",
            "After that it's digital: dust removal, stabilisation, flicker, and finally the colour grade.",
            "And the audio is its own journey, because the sound was on a separate magnetic track.",
        ),
    ),
    (
        "How do you decide how far to go with the digital clean-up?",
        (
            "That's the ethical question we argue about the most.",
            "My rule is, we remove damage that happened after the film was made, and we keep everything that was "
            "there on the day.",
            "So a scratch from a bad projector in 1990 goes, but the grain, the soft focus, the light leaks stay.",
            "If you clean too hard it looks like video, and then you've lied about what it was.",
        ),
    ),
    (
        "You mentioned sound. What happened with the audio?",
        (
            "The magnetic tracks were in worse shape than the picture; the oxide was shedding off the base.",
            "We had a colleague in Tokyo, at a small lab called Studio Kaze, who specialises in exactly this.",
            "She baked the tapes at a low temperature for a couple of days, which sounds crazy, but it works.",
            "Then we got one pass, one chance, to transfer each track.",
            "On reel four you can hear the filmmakers arguing in three languages, Hebrew, Arabic and English, over "
            "the sound of the cranes.",
        ),
    ),
    (
        "Did you understand what they were arguing about?",
        (
            "Mostly, yes. One of them keeps saying 'עוד פעם, עוד פעם', again, again, and another answers 'خلص، خلص', "
            "enough, enough.",
            "They're fighting over whether to wait for the sunset shot or go home.",
            "They waited. The sunset shot is the most beautiful thing in the whole film.",
        ),
    ),
    (
        "How long did the whole restoration take?",
        (
            "About two and a half years, with a team of four people, and not full-time, because we had other work.",
            "The scanning was quick, maybe three weeks; everything else was slow.",
            "People imagine the machine does the work. The machine does the easy part.",
        ),
    ),
    (
        "What about funding? How does an archive pay for this?",
        (
            "Badly, is the honest answer.",
            "We had a grant from a European heritage fund, a smaller one from the city, and a lot of volunteer hours.",
            "I once calculated that each minute of restored footage cost us about three thousand euros.",
            'And people still ask, "why not just put it on YouTube?"',
        ),
    ),
    (
        "What do you say to that?",
        (
            "I say, an upload is a copy of a copy; we're trying to make the best possible copy once, so nobody has "
            "to do it again.",
            "And we keep the scans, the raw files, the logs, every decision, so in thirty years someone can redo it "
            "better.",
            "Restoration isn't a finished product. It's a handoff.",
        ),
    ),
    (
        "Who were the filmmakers? Have you found them?",
        (
            "We've found four of the six. Two of them passed away before we found the reels.",
            "One of them, Yusuf, is eighty-one now and lives in Nazareth; he came to the lab last spring.",
            "He sat at the viewer for an hour without saying a word, and then he said, 'that's my bicycle.'",
            "It was leaning against a wall in the background of one shot on reel two. He recognised it instantly.",
        ),
    ),
    (
        "That must have been emotional.",
        (
            "It was. I had to leave the room for a minute, to be honest.",
            "We forget that these are people's lives, not just artefacts in cans.",
            "Now every time I see that shot I look at the bicycle first.",
        ),
    ),
    (
        "Is there anything in the footage that surprised you?",
        (
            "The signs, actually. The port had signs in Hebrew, Arabic, English, and in one shot even Russian, from a "
            "Soviet cargo ship.",
            "You can read 'Одесса' on the stern, Odessa, in white letters.",
            "And there's a Japanese freighter too, with the name painted in kana; we think it says 'さくら丸', "
            "Sakura Maru.",
            "We're still checking that with maritime records.",
        ),
    ),
    (
        "How do you verify details like that?",
        (
            "Shipping registers, old newspapers, and a lot of emails to retired dock workers.",
            "A researcher in Shanghai helped us identify a Chinese freighter from the characters on its hull, "
            "'海星', sea star.",
            "It becomes detective work, which is my favourite part, to be honest.",
        ),
    ),
    (
        "What's the biggest technical challenge left?",
        (
            "Reel six, if we ever find it. And colour.",
            "The original stock was Eastman colour negative, and the dyes faded unevenly; the cyan layer went first.",
            "So everything drifts towards magenta, and we have to rebuild the colour from what's left.",
            "We use reference objects, a red fire truck, the blue of the sea, skin tones, to find our way back.",
        ),
    ),
    (
        "Is there a risk of getting the colour wrong?",
        (
            "Always. There's no ground truth; no one wrote down what the sea looked like on May 3rd, 1974.",
            "We document every grading decision in a log, so it can be challenged.",
            'If Yusuf tells me, "the sky was never that blue", I listen.',
        ),
    ),
    (
        "Where will the film be shown?",
        (
            "It premieres at the Haifa International Film Festival in October, with a live score.",
            "After that, it goes online for free, in full resolution, with subtitles in Hebrew, Arabic and English.",
            "And we're sending a copy to the film studio archive in Odessa, because their ship is in it.",
        ),
    ),
    (
        "What would you say to someone who has old reels in their garage?",
        (
            "Don't throw them away, and don't try to project them.",
            "Put them somewhere cool and dry, and call your local archive; most of us will look at them for free.",
            "You never know. Someone's bicycle might be in there.",
        ),
    ),
    (
        "Last question. What does this work mean to you?",
        (
            "It's a conversation with people who aren't in the room anymore.",
            "My grandfather, the filmmakers, the dock workers in the background who never knew they were filmed.",
            "We're just making sure the conversation can keep going.",
            "That's it. That's the job.",
        ),
    ),
)

TOPICS = (
    "Introductions",
    "Family history",
    "Vinegar syndrome",
    "Film chemistry",
    "The Haifa reels",
    "Bilingual labels",
    "Reel condition",
    "Restoration workflow",
    "Restoration ethics",
    "Audio recovery",
    "On-set arguments",
    "Project timeline",
    "Archive funding",
    "Preservation philosophy",
    "The filmmakers",
    "Emotional reunion",
    "Multilingual signage",
    "Historical research",
    "Colour restoration",
    "Colour grading decisions",
    "Premiere plans",
    "Advice to the public",
    "Closing reflections",
)
BROAD_TOPICS = ("Film preservation", "Haifa history", "Cultural heritage", "Analog film technology")
KEYWORDS = (
    "reel",
    "reels",
    "film",
    "splicer",
    "vinegar",
    "acetate",
    "scan",
    "4K",
    "colour",
    "Haifa",
    "magenta",
    "archive",
    "1974",
    "Super 8",
    "magnetic",
    "bicycle",
    "port",
    "grant",
)
LABELS = (
    "person",
    "indoor",
    "film reel",
    "microphone",
    "bookshelf",
    "window",
    "desk lamp",
    "projector",
    "headphones",
    "coffee cup",
    "poster",
    "hand",
    "workbench",
    "monitor",
    "sunlight",
    "plant",
    "glasses",
    "shelving",
)
OBJECTS = (
    "chair",
    "laptop",
    "film can",
    "splicer",
    "light stand",
    "loupe",
    "rewind bench",
    "gloves",
    "tape reel",
    "notebook",
    "scanner",
    "cardboard box",
)
FACES = ((GUEST, 14), (INTERVIEWER, 4), ("Yusuf Haddad", 1), ("Unknown face 1", 1), ("Unknown face 2", 1))
LOGOS = ("Carmel Film Archive", "Studio Kaze", "Nordlicht Optics", "Port of Haifa Authority", "Eastmark Film Stock")
OCR_TEXTS = (
    "CARMEL FILM ARCHIVE",
    "ארכיון הסרטים כרמל",
    "أرشيف أفلام الكرمل",
    "REEL 3/7",
    "REEL 3 --> REEL 4",
    "נמל חיפה",
    "ميناء حيفا",
    "Одесса",
    "さくら丸",
    "海星",
    "EXIT -->",
    "Café | Bar",
    "=SUM(A1:A9)",
    "+972-4-555-0199",
    "@carmel_archive",
    "-20% on all scans",
    '"Do not open: NITRATE"',
    "Dana's bench",
    "Lab hours:\nSun–Thu 9–17",
    "STUDIO KAZE 東京",
    "电影修复",
    "Tape 4 | Side A | 1974",
    "<HANDLE WITH CARE>",
    "Kodak? no: Eastmark",
    "Temp 4°C, RH 30%",
)
SENTIMENTS = ("positive", "neutral", "negative", "mixed")
COMMENTS = (
    "Great soundbite — use for the trailer 🎬",
    "Lower third: Dana Levi, Head of Restoration | Carmel Film Archive",
    'Is this "the" reel? Check against Dana\'s handwritten notes, p. 3',
    '=HYPERLINK("http://example.com/reel3","reel 3 scan")',
    "Line 1 of a long note\nLine 2 continues\n\nLine 4, after a blank line",
    'Hebrew title card: "ארכיון הסרטים של חיפה"',
    "Arabic subtitle needed: «أرشيف الأفلام في حيفا»",
    "Japanese lab credit: 東京フィルム修復所 (Studio Kaze) — spelling OK?",
    "Russian archive: «Госфильмофонд» — ask permission before using",
    "Take 2 --> better than take 1, cut here",
    "Tab\tseparated\tnote from the Avid assistant",
    "👍🏽 love this, 👨‍👩‍👧 family-story angle for the promo",
    "+1 from the producer; @mira please review",
    "-- cut the cough before this line --",
    "Note typed on Windows\r\nwith CRLF line endings",
    "<b>bold</b> & 'quoted' HTML-ish text from a web form",
)
INSIGHTS = (
    "Dana explains vinegar syndrome in plain language; a self-contained 30-second explainer.",
    "Emotional peak: Yusuf recognises his bicycle. Strong candidate for the trailer's closing beat.",
    "The bilingual can labels ('נמל חיפה' / 'ميناء حيفا') are a visual motif worth an insert shot.",
    'Clear statement of the restoration ethic: "remove damage that happened after, keep what was there".',
    "Funding figure (≈ €3,000 per minute) is a quotable fact; verify before publishing.",
    "Good promo line: \"Restoration isn't a finished product. It's a handoff.\"",
    "Colour science segment is technical; consider a graphic for the cyan-layer fade | magenta drift.",
    # A long one: writers with field limits (EDL, Avid) must shorten it without breaking a line.
    "Closing reflection works as an ending: calm delivery, no overlap with the interviewer, and a natural "
    "pause before the last line.\n\nSummary of the whole interview, for the edit: Dana Levi, who runs the "
    "restoration lab at the Carmel Film Archive, tells how the seven Haifa reels (reel six is still missing) were "
    "found in a garage in 2021, cleaned by hand over four months, scanned at 4K on a wet-gate scanner and graded "
    "back from a magenta drift using reference objects such as a red fire truck and the blue of the sea. The "
    "magnetic sound was baked by a colleague in Tokyo and transferred in a single pass; on reel four the "
    "filmmakers argue in Hebrew, Arabic and English about waiting for the sunset shot. The emotional centre is "
    "Yusuf, now eighty-one, recognising his own bicycle in the background of a shot on reel two. The thesis, "
    "stated plainly near the middle, is that restoration is a handoff and not a finished product: keep the scans, "
    "the logs and every decision so that someone can redo it better in thirty years. Suggested structure: open "
    "on the garage phone call, explain vinegar syndrome with the bench footage, build to the bicycle, close on "
    "the conversation line.",
    "Multilingual signage (Одесса, さくら丸, 海星) supports a 'port of many languages' theme 🌍.",
)
MARKERS = (
    ("Chapter 1: Introductions", 0.0),
    ("Chapter 2: How Dana started", 0.0),
    ("Chapter 3: Vinegar syndrome", 4.0),
    ("Chapter 4: The Haifa reels", 0.0),
    ("Chapter 5: Workflow & ethics", 6.5),
    ("Chapter 6: Sound | the argument", 3.0),
    ('Chapter 7: Funding, "why not YouTube?"', 2.0),
    ("Chapter 8: The filmmakers", 5.0),
    ("Chapter 9: Colour", 0.0),
    ("Chapter 10: Premiere & advice — end", 4.0),
)


@dataclass
class DemoAsset:
    """The documents, plus which ones are broken on purpose (kind → `_id`) and how they are counted."""

    documents: list[dict[str, Any]]
    broken: dict[str, ObjectId | str] = field(default_factory=dict)
    duplicate_of: ObjectId | None = None


def generate_demo_documents(seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """Every catalog document of the demo asset; same seed, same documents."""
    return generate_demo_asset(seed).documents


def generate_demo_asset(seed: int = DEFAULT_SEED) -> DemoAsset:
    rng = random.Random(seed)
    ids = _id_factory(seed)
    transcript, turns = _transcript(rng, ids)
    events = _events(rng, ids, transcript, turns)
    comments = _comments(rng, ids)
    markers = _markers(rng, ids, turns)
    broken = _broken_documents(ids, transcript)
    # Broken documents sit among good ones of the same kind, not at the end where a reader might not look.
    documents = [
        *transcript[:120],
        broken["negative_start"],
        *transcript[120:],
        broken["duplicate"],
        *events[:700],
        broken["end_before_start"],
        *events[700:1400],
        broken["nan_start"],
        *events[1400:],
        *comments[:10],
        broken["missing_end"],
        *comments[10:],
        broken["non_objectid_id"],
        *markers[:5],
        broken["empty_value"],
        *markers[5:],
    ]
    broken_ids = {kind: document["_id"] for kind, document in broken.items()}
    return DemoAsset(documents, broken_ids, duplicate_of=transcript[DUPLICATED_SEGMENT]["_id"])


# --- ids, times, numbers ----------------------------------------------------------------------------------


def _id_factory(seed: int) -> Iterator[ObjectId]:
    """ObjectIds from the seed: a fixed time prefix (unique per document) and 8 hashed bytes."""
    for n in range(1_000_000):
        tail = hashlib.sha256(f"demo-asset:{seed}:{n}".encode()).digest()[:8]
        yield ObjectId((_ID_EPOCH + n).to_bytes(4, "big") + tail)
    raise RuntimeError("demo asset id space exhausted")


def _frame_time(seconds: float) -> float:
    """Snap to a frame, as vision services report: long floats like 41.70833333333333."""
    return float(round(Fraction(seconds) / _FRAME) * _FRAME)


def _confidence(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 2)


def _boxes(rng: random.Random, count: int) -> list[dict[str, float]]:
    """Normalized (0..1) bounding boxes, one per sampled frame of a track."""
    width, height = rng.uniform(0.05, 0.4), rng.uniform(0.05, 0.5)
    x, y = rng.uniform(0, 1 - width), rng.uniform(0, 1 - height)
    boxes = []
    for _ in range(count):
        x = min(max(x + rng.uniform(-0.02, 0.02), 0.0), 1 - width)
        y = min(max(y + rng.uniform(-0.02, 0.02), 0.0), 1 - height)
        boxes.append({"x": round(x, 4), "y": round(y, 4), "w": round(width, 4), "h": round(height, 4)})
    return boxes


def _document(
    ids: Iterator[ObjectId], event_type: str, value: str, start: float, end: float, **optional: Any
) -> dict[str, Any]:
    document = {
        "_id": next(ids),
        "repoGuid": DEMO_REPO_GUID,
        "fullPath": DEMO_FULL_PATH,
        "sdnaEventType": event_type,
        "eventValue": value,
        "start": start,
        "end": end,
    }
    document.update({name: given for name, given in optional.items() if given is not None})
    return document


# --- transcript -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Turn:
    speaker: str
    block: int
    start: float
    end: float
    sentences: tuple[tuple[float, float, str], ...]  # (start, end, sentence)


def _transcript(rng: random.Random, ids: Iterator[ObjectId]) -> tuple[list[dict[str, Any]], list[_Turn]]:
    """The interview cut into exactly TRANSCRIPT_SEGMENTS caption-sized segments, timed to fill the asset."""
    sentences = [
        (block, speaker, text)
        for block, (question, answers) in enumerate(INTERVIEW)
        for speaker, texts in ((SPEAKERS[0], (question,)), (SPEAKERS[1], answers))
        for text in texts
    ]
    chunks_per_sentence = _chunk_counts([len(text.split()) for _, _, text in sentences], TRANSCRIPT_SEGMENTS)
    pieces = [
        (block, speaker, sentence_index, chunk)
        for sentence_index, ((block, speaker, text), count) in enumerate(
            zip(sentences, chunks_per_sentence, strict=True)
        )
        for chunk in _split_words(rng, text, count)
    ]
    timings = _timings(rng, pieces)
    segments = [
        _document(
            ids,
            "transcript",
            _caption_lines(rng, chunk),
            start,
            end,
            confidenceScore=_confidence(rng, 72, 99.5),
            source="sdna-transcribe",
        )
        for (_, _, _, chunk), (start, end) in zip(pieces, timings, strict=True)
    ]
    return segments, _turns(pieces, timings, sentences)


def _chunk_counts(word_counts: Sequence[int], total: int) -> list[int]:
    """How many segments each sentence becomes so that they add up to `total` exactly."""
    words = sum(word_counts)
    counts = [max(1, round(count * total / words)) for count in word_counts]
    while sum(counts) != total:
        if sum(counts) > total:  # merge where segments are shortest
            index = min((i for i, c in enumerate(counts) if c > 1), key=lambda i: word_counts[i] / counts[i])
            counts[index] -= 1
        else:  # split where segments are longest
            splittable = (i for i, c in enumerate(counts) if c < word_counts[i])
            index = max(splittable, key=lambda i: word_counts[i] / counts[i])
            counts[index] += 1
    return counts


def _split_words(rng: random.Random, text: str, count: int) -> list[str]:
    """`count` runs of words, cut near equal length, preferring a cut after a comma as captioners do."""
    words = text.split()
    cuts, previous = [], 0
    for k in range(1, count):
        target = round(k * len(words) / count)
        candidates = [i for i in range(max(previous + 1, target - 2), min(len(words) - (count - k), target + 2) + 1)]
        after_comma = [i for i in candidates if words[i - 1].endswith((",", ";"))]
        cut = after_comma[0] if after_comma else (rng.choice(candidates) if candidates else previous + 1)
        cuts.append(cut)
        previous = cut
    bounds = [0, *cuts, len(words)]
    return [" ".join(words[a:b]) for a, b in itertools.pairwise(bounds)]


def _caption_lines(rng: random.Random, chunk: str) -> str:
    """Some transcription services break long segments into two caption lines."""
    words = chunk.split()
    if len(chunk) < 42 or len(words) < 4 or rng.random() > 0.35:
        return chunk
    middle = len(words) // 2
    return " ".join(words[:middle]) + "\n" + " ".join(words[middle:])


def _timings(rng: random.Random, pieces: Sequence[tuple[int, str, int, str]]) -> list[tuple[float, float]]:
    """Speech at ~2.5 words/s, short gaps inside a turn, longer ones between turns; scaled to the asset."""
    raw, clock, previous_speaker = [], 0.0, None
    for _, speaker, _, chunk in pieces:
        clock += rng.uniform(0.6, 1.6) if speaker != previous_speaker else rng.uniform(0.0, 0.25)
        length = len(chunk.split()) / rng.uniform(2.2, 2.9) + 0.2
        raw.append((clock, clock + length))
        clock += length
        previous_speaker = speaker
    first, last = 1.2, DEMO_DURATION_SECONDS - 2.0
    scale = (last - first) / raw[-1][1]
    return [(round(first + a * scale, 3), round(first + b * scale, 3)) for a, b in raw]


def _turns(
    pieces: Sequence[tuple[int, str, int, str]],
    timings: Sequence[tuple[float, float]],
    sentences: Sequence[tuple[int, str, str]],
) -> list[_Turn]:
    turns: list[_Turn] = []
    index = 0
    while index < len(pieces):
        block, speaker = pieces[index][0], pieces[index][1]
        end_index = index
        while end_index + 1 < len(pieces) and pieces[end_index + 1][:2] == (block, speaker):
            end_index += 1
        turn_sentences = _sentence_spans(pieces[index : end_index + 1], timings[index : end_index + 1], sentences)
        turns.append(_Turn(speaker, block, timings[index][0], timings[end_index][1], turn_sentences))
        index = end_index + 1
    return turns


def _sentence_spans(
    pieces: Sequence[tuple[int, str, int, str]],
    timings: Sequence[tuple[float, float]],
    sentences: Sequence[tuple[int, str, str]],
) -> tuple[tuple[float, float, str], ...]:
    spans: dict[int, list[float]] = {}
    for (_, _, sentence_index, _), (start, end) in zip(pieces, timings, strict=True):
        span = spans.setdefault(sentence_index, [start, end])
        span[1] = end
    return tuple((start, end, sentences[i][2]) for i, (start, end) in spans.items())


# --- detected events -----------------------------------------------------------------------------------


def _events(
    rng: random.Random, ids: Iterator[ObjectId], transcript: Sequence[dict[str, Any]], turns: Sequence[_Turn]
) -> list[dict[str, Any]]:
    """EVENT_COUNT events: speech-derived (speaker, sentiment, topic, keyword, shot) and visual ones."""
    events = [
        *_speaker_events(rng, ids, turns),
        *_sentiment_events(rng, ids, turns),
        *_topic_events(rng, ids, turns),
        *_keyword_events(rng, ids, transcript),
        *_shot_events(rng, ids),
    ]
    visual = dict(VISUAL_COUNTS, label=EVENT_COUNT - len(events) - sum(VISUAL_COUNTS.values()))
    for event_type, count in visual.items():
        events.extend(_visual_event(rng, ids, event_type) for _ in range(count))
    _set_confidence_edges(events)
    return events


def _speaker_events(rng: random.Random, ids: Iterator[ObjectId], turns: Sequence[_Turn]) -> list[dict[str, Any]]:
    return [
        _document(
            ids,
            "speaker",
            turn.speaker,
            turn.start,
            turn.end,
            confidenceScore=_confidence(rng, 80, 99.9),
            source="sdna-diarize",
        )
        for turn in turns
    ]


def _sentiment_events(rng: random.Random, ids: Iterator[ObjectId], turns: Sequence[_Turn]) -> list[dict[str, Any]]:
    weights = (5, 8, 2, 2)
    return [
        _document(
            ids,
            "sentiment",
            rng.choices(SENTIMENTS, weights)[0],
            start,
            end,
            confidenceScore=_confidence(rng, 50, 97),
            source="sdna-nlp",
        )
        for turn in turns
        for start, end, _ in turn.sentences
    ]


def _topic_events(rng: random.Random, ids: Iterator[ObjectId], turns: Sequence[_Turn]) -> list[dict[str, Any]]:
    """One topic per question-and-answer block, plus broad topics spanning several blocks."""
    blocks: dict[int, list[float]] = {}
    for turn in turns:
        span = blocks.setdefault(turn.block, [turn.start, turn.end])
        span[1] = turn.end
    topics = [
        _document(ids, "topic", TOPICS[block], start, end, confidenceScore=_confidence(rng, 60, 98), source="sdna-nlp")
        for block, (start, end) in blocks.items()
    ]
    spans = list(blocks.values())
    for _ in range(SECONDARY_TOPICS):
        first = rng.randrange(len(spans) - 3)
        last = first + rng.randrange(1, 4)
        topics.append(
            _document(
                ids,
                "topic",
                rng.choice(BROAD_TOPICS),
                spans[first][0],
                spans[last][1],
                confidenceScore=_confidence(rng, 40, 90),
                source="sdna-nlp",
            )
        )
    return topics


def _keyword_events(
    rng: random.Random, ids: Iterator[ObjectId], transcript: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A keyword wherever the transcript says one, as keyword spotting would."""
    events = []
    for segment in transcript:
        words = {word.strip(".,;:'\"?!").lower() for word in segment["eventValue"].split()}
        for keyword in KEYWORDS:
            if keyword.lower() in words or (" " in keyword and keyword.lower() in segment["eventValue"].lower()):
                events.append(
                    _document(
                        ids,
                        "keyword",
                        keyword,
                        segment["start"],
                        segment["end"],
                        confidenceScore=_confidence(rng, 70, 99),
                        source="sdna-nlp",
                    )
                )
    return events


def _shot_events(rng: random.Random, ids: Iterator[ObjectId]) -> list[dict[str, Any]]:
    """Shots tile the whole asset, cut on frame boundaries."""
    # Distinct cut frames: two random cuts rounding to one frame would make an empty shot.
    cuts = [float(frame * _FRAME) for frame in sorted(rng.sample(range(1, _LAST_FRAME), SHOT_COUNT - 1))]
    bounds = [0.0, *cuts, _LAST_FRAME_TIME]
    return [
        _document(ids, "shot", f"Shot {n}", a, b, confidenceScore=_confidence(rng, 85, 99.9), source="sdna-vision")
        for n, (a, b) in enumerate(itertools.pairwise(bounds), start=1)
    ]


def _visual_event(rng: random.Random, ids: Iterator[ObjectId], event_type: str) -> dict[str, Any]:
    value = _visual_value(rng, event_type)
    length = rng.uniform(0.5, 12.0 if event_type in ("face", "label") else 6.0)
    start = _frame_time(rng.uniform(0, DEMO_DURATION_SECONDS - length))
    end = min(_frame_time(start + length), _LAST_FRAME_TIME)
    return _document(
        ids,
        event_type,
        value,
        start,
        end,
        confidenceScore=_confidence(rng, 35, 99.9),
        positions=_boxes(rng, rng.randint(1, 4)),
        source="sdna-ocr" if event_type == "ocr" else "sdna-vision",
    )


def _visual_value(rng: random.Random, event_type: str) -> str:
    if event_type == "face":
        names, weights = zip(*FACES, strict=True)
        return rng.choices(names, weights)[0]
    choices = {"ocr": OCR_TEXTS, "logo": LOGOS, "object": OBJECTS, "label": LABELS}[event_type]
    return rng.choice(choices)


def _set_confidence_edges(events: list[dict[str, Any]]) -> None:
    # The bounds of 0..100 occur in real data; make sure both are present, on labels.
    labels = [event for event in events if event["sdnaEventType"] == "label"]
    labels[0]["confidenceScore"] = 100.0
    labels[1]["confidenceScore"] = 0.0


# --- comments, insights, markers ---------------------------------------------------------------------------


def _comments(rng: random.Random, ids: Iterator[ObjectId]) -> list[dict[str, Any]]:
    """Editors' comments (no confidence) and LLM insights (with one), spread over the interview."""
    documents = []
    texts = [("comment", text) for text in COMMENTS] + [("insight", text) for text in INSIGHTS]
    for event_type, text in texts:
        start = round(rng.uniform(2, DEMO_DURATION_SECONDS - 30), 3)
        end = round(start + rng.choice((0.0, rng.uniform(1, 25))), 3)
        confidence = _confidence(rng, 55, 95) if event_type == "insight" else None
        source = "sdna-llm" if event_type == "insight" else rng.choice(("editor:noa", "editor:mira", "producer"))
        documents.append(_document(ids, event_type, text, start, end, confidenceScore=confidence, source=source))
    return documents


def _markers(rng: random.Random, ids: Iterator[ObjectId], turns: Sequence[_Turn]) -> list[dict[str, Any]]:
    """Chapter markers at question starts; some are points (start == end), as NLE markers often are."""
    questions = [turn for turn in turns if turn.speaker == SPEAKERS[0]]
    step = len(questions) / len(MARKERS)
    markers = []
    for n, (name, length) in enumerate(MARKERS):
        start = _frame_time(questions[int(n * step)].start)
        markers.append(_document(ids, "marker", name, start, _frame_time(start + length), source="editor:noa"))
    return markers


# --- broken on purpose ----------------------------------------------------------------------------------


def _broken_documents(ids: Iterator[ObjectId], transcript: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One document per defect SPEC §2.1 says real data has; each is otherwise ordinary."""
    # A MongoDB collection cannot hold two documents with one _id, so the duplicate has the same content
    # (type, value, start, end, confidence, source) under a new _id: the way a re-run of an AI job duplicates.
    duplicate = {**transcript[DUPLICATED_SEGMENT], "_id": next(ids)}
    missing_end = _document(
        ids, "comment", "Check this bit again, the note never got an out point", 333.333, 0.0, source="editor:mira"
    )
    del missing_end["end"]
    return {
        "end_before_start": _document(
            ids,
            "label",
            "film reel",
            300.5,
            298.25,
            confidenceScore=64.0,
            positions=[{"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.3}],
            source="sdna-vision",
        ),
        "missing_end": missing_end,
        "negative_start": _document(
            ids, "transcript", "[crosstalk] okay, rolling", -0.48, 0.9, confidenceScore=41.5, source="sdna-transcribe"
        ),
        "nan_start": _document(
            ids,
            "ocr",
            "SCENE 12 TAKE 3",
            math.nan,
            412.0,
            confidenceScore=77.7,
            positions=[{"x": 0.4, "y": 0.8, "w": 0.2, "h": 0.08}],
            source="sdna-ocr",
        ),
        "duplicate": duplicate,
        "empty_value": _document(ids, "marker", "", 512.0, 512.0, source="editor:noa"),
        "non_objectid_id": {
            **_document(
                ids,
                "insight",
                "Legacy import: strong closing line at the end of the interview",
                700.0,
                712.5,
                confidenceScore=66.0,
                source="legacy-import",
            ),
            "_id": "legacy-42",
        },
    }


# --- loading --------------------------------------------------------------------------------------------


def asset_filter() -> dict[str, str]:
    """Exactly the demo asset's documents: what a load replaces."""
    return {"repoGuid": DEMO_REPO_GUID, "fullPath": DEMO_FULL_PATH}


async def load_demo_asset(collection: Any, seed: int = DEFAULT_SEED) -> int:
    """Replace the demo asset in a PyMongo asyncio collection; returns the documents written."""
    plain, with_nan = _split_nan(generate_demo_documents(seed))
    await collection.delete_many(asset_filter())
    await collection.insert_many(plain, ordered=True)
    for document in with_nan:
        try:
            await collection.insert_one(document)
        except NAN_REFUSED:
            await collection.insert_one(_nan_as_text(document))
    return len(plain) + len(with_nan)


def load_demo_asset_sync(collection: Any, seed: int = DEFAULT_SEED) -> tuple[int, int]:
    """The same with pymongo; returns (documents removed, documents written)."""
    plain, with_nan = _split_nan(generate_demo_documents(seed))
    removed = collection.delete_many(asset_filter()).deleted_count
    collection.insert_many(plain, ordered=True)
    for document in with_nan:
        try:
            collection.insert_one(document)
        except NAN_REFUSED:
            collection.insert_one(_nan_as_text(document))
    return removed, len(plain) + len(with_nan)


# FerretDB v1 rejects NaN while decoding the message and drops the connection (AutoReconnect); other
# servers may answer with an error. A real outage still surfaces: the fallback insert then fails too.
NAN_REFUSED = (AutoReconnect, OperationFailure)


def _split_nan(documents: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """NaN documents go in one at a time, so a server that refuses NaN cannot fail the whole load."""
    plain = [document for document in documents if not _has_nan(document)]
    return plain, [document for document in documents if _has_nan(document)]


def _has_nan(document: dict[str, Any]) -> bool:
    return any(isinstance(value, float) and math.isnan(value) for value in document.values())


def _nan_as_text(document: dict[str, Any]) -> dict[str, Any]:
    """The closest a NaN-refusing server can hold: the time as the text "NaN", still not a number."""
    log.warning("server refused NaN; storing document %s with the time as the string 'NaN'", document["_id"])
    return {
        name: "NaN" if isinstance(value, float) and math.isnan(value) else value for name, value in document.items()
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.demo_asset", description=__doc__.split("\n\n")[0])
    default_url = os.environ.get("FABRIC_MONGODB_URL") or os.environ.get("MONGODB_URL")
    parser.add_argument("--mongodb-url", default=default_url, help="default: FABRIC_MONGODB_URL, else MONGODB_URL")
    parser.add_argument("--db", default="ApiDNA", help="the Fabric catalog database (default ApiDNA)")
    parser.add_argument("--collection", default=COLLECTION_NAME)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--dump", action="store_true", help="print the documents as Extended JSON and exit")
    args = parser.parse_args(argv)
    if not args.dump and not args.mongodb_url:
        parser.error("--mongodb-url is required (or set FABRIC_MONGODB_URL / MONGODB_URL)")
    return args


def main(argv: list[str] | None = None) -> int:
    from bson import json_util
    from pymongo import MongoClient

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    if args.dump:
        for document in generate_demo_documents(args.seed):
            print(json_util.dumps(document, ensure_ascii=False))
        return 0
    client: MongoClient = MongoClient(args.mongodb_url, serverSelectionTimeoutMS=5_000)
    try:
        removed, written = load_demo_asset_sync(client[args.db][args.collection], args.seed)
    except PyMongoError as error:
        # One line, not a traceback: `make run` prints it and serves anyway.
        first = str(error).split(", Timeout:")[0].split(" (configured timeouts")[0]
        print(f"cannot write to {args.db} ({type(error).__name__}: {first[:200]})", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(
        f"wrote {written} documents to {args.db}.{args.collection} "
        f"(repoGuid={DEMO_REPO_GUID}, fullPath={DEMO_FULL_PATH}, seed={args.seed}; replaced {removed})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
