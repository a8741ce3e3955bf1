"""An emotional-awareness (EA) proxy: a transparent, direction-aware score in the spirit of LEAS.

The study's raters judged the "emotional awareness" of LLM responses. With no judge or rater
available offline, the book needs an automatic stand-in, and this module is that stand-in. It
is a **proxy**: hand-written rules, validated only on a small labelled set that the project
wrote itself (`data/scorers/ea_labelled.csv`, rubric in `data/scorers/EA_RUBRIC.md`).

LEAS (the Levels of Emotional Awareness Scale) rewards naming emotions, and naming them more
specifically: bodily words < undifferentiated emotions ("bad") < differentiated ones ("sad") <
several, or blends of self and other. Counting emotion words alone measures *intensity*, not
awareness. On this project, NRC counts rose with anger and disgust words and did not separate
caring replies from neutral ones. So every emotion word is first attributed to someone (the
user, a third party, or the speaker), and only emotions of the user, or of people in general,
earn credit. Hostility and dismissal cost points.

How one response is scored (weights in `WEIGHTS`):

=====================  =========================================================================
component              rule
=====================  =========================================================================
emotion credit         each *distinct* feeling lemma (glossary below) that is attributed to the
                       user adds its specificity (bodily 0.5, vague 1, basic 2, differentiated 3)
                       times its attribution weight: user 1.0; a situation ("that must be
                       frustrating") 0.75; a third party or nobody 0.5; the speaker 0.
                       Negated words ("not angry") and words in a sentence that derogates the
                       user earn nothing.
diversity              +0.5 for each emotion family beyond the first (LEAS level 4).
blend                  +1 when the speaker relates a feeling of its own to the user's
                       (LEAS level 5: "I feel sad reading this ... you might be grieving").
validation             +1 for each distinct validating phrase ("that makes sense", "it's
                       understandable", "of course you ..."), at most 3.
acknowledgement        +0.5 for each reflective frame ("it sounds like", "that must be",
                       "I can imagine"), at most 1.5.
exploration            +0.5 for each invitation to say more ("how are you holding up"), at most 1.
formula                +0.25, once, for a set phrase only ("sorry to hear that").
reflection             +0.5 when a prompt is given and the response credits the user with an
                       emotion family that the user named in it.
length normalisation   the sum above is divided by max(1, sqrt(tokens / 60)). Distinct counts
                       keep repetition from paying, and the divisor keeps long lists from paying.
derogation             -2 for each insult or contemptuous predicate aimed at the user ("you're
                       pathetic", "your panic is embarrassing", "people like you").
dismissal              -1.5 for each invalidating phrase ("get over it", "cheer up").
=====================  =========================================================================

Score = positive components / length factor - penalties. Higher means more aware. On the
labelled set, replies labelled high score 0.5-19.5 (median 11.5), medium 0-2.25, practical
advice 0, and hostile or dismissive replies below 0 (one exception, see the validation report).

Why hand-written rules. The NRC lexicon shipped with `nrclex` tags associations, not named
feelings ("abacus" -> trust), and it lacks common feeling words ("sad", "scared", "betrayed",
"heartbroken"). NRCLex's own tokeniser needs TextBlob corpora, which cannot be downloaded
offline. Sentiment and emotion classifiers (VADER, emotion-tuned transformers) score the
*intensity* or *valence* of a text, not who the emotion belongs to. So the proxy reads the NRC
file directly and uses it in three narrow places: tags shown in `components`, feeling words
missing from the glossary but found after "feel"/"feeling", and anger and disgust words predicated
of the user (insults). Otherwise it relies on a short glossary of feeling words with
specificity tiers, plus regular expressions for attribution, validation and dismissal.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pluralign.paths import project_root


def _word_set(*chunks: str) -> frozenset[str]:
    """A set of words from space-separated strings (keeps the word lists below readable)."""
    return frozenset(" ".join(chunks).split())


PROXY_NAME = "ea-proxy-leas-nrc"
"""The name every output carries: says that this is a proxy, after LEAS, using the NRC lexicon."""

NRC_EMOTIONS = (
    "anger",
    "anticipation",
    "disgust",
    "fear",
    "joy",
    "sadness",
    "surprise",
    "trust",
)

WEIGHTS: dict[str, float] = {
    "attribution_user": 1.0,
    "attribution_situation": 0.75,
    "attribution_generic": 0.5,
    "attribution_self": 0.0,
    "diversity_per_extra_family": 0.5,
    "blend": 1.0,
    "validation_each": 1.0,
    "validation_max": 3.0,
    "acknowledgement_each": 0.5,
    "acknowledgement_max": 1.5,
    "exploration_each": 0.5,
    "exploration_max": 1.0,
    "formula": 0.25,
    "reflection": 0.5,
    "length_reference_tokens": 60.0,
    "derogation_each": 2.0,
    "dismissal_each": 1.5,
}
"""Every weight the score uses; `components` reports each term so a score can be re-derived."""

TIER_WEIGHTS = {"bodily": 0.5, "vague": 1.0, "basic": 2.0, "differentiated": 3.0}
"""Specificity of a feeling word, after LEAS levels 1-3 (one level added for nuanced words)."""

# --- the glossary: lemma -> (tier, family, surface forms) ----------------------------------------
# Written for this project from general English, not from the labelled set. Families group
# near-synonyms so that "sad, sadness, unhappy" do not count as differentiation.
_GLOSSARY_SPEC: dict[str, tuple[str, str, str]] = {
    # bodily states and actions (LEAS level 1)
    "tired": ("bodily", "fatigue", "tired tiredness"),
    "crying": ("bodily", "distress", "cry cries crying cried tears tearful"),
    "shaking": ("bodily", "fear", "shaking trembling shaky"),
    "sleepless": ("bodily", "fatigue", "sleepless insomnia"),
    "heaviness": ("bodily", "sadness", "heaviness"),
    # undifferentiated (LEAS level 2)
    "bad": ("vague", "valence", "bad"),
    "upset": ("vague", "valence", "upset upsetting"),
    "awful": ("vague", "valence", "awful"),
    "terrible": ("vague", "valence", "terrible"),
    "horrible": ("vague", "valence", "horrible"),
    "unhappy": ("vague", "valence", "unhappy"),
    "distressed": ("vague", "valence", "distressed distress distressing"),
    "troubled": ("vague", "valence", "troubled"),
    "uncomfortable": ("vague", "valence", "uncomfortable"),
    "emotional": ("vague", "valence", "emotional"),
    # basic emotions (LEAS level 3)
    "sad": ("basic", "sadness", "sad sadness saddened"),
    "miserable": ("basic", "sadness", "miserable misery"),
    "depressed": ("basic", "sadness", "depressed depressing"),
    "hurt": ("basic", "hurt", "hurt hurts hurting painful pain"),
    "angry": ("basic", "anger", "angry anger angered mad"),
    "furious": ("basic", "anger", "furious fury rage enraged outrage outraged livid"),
    "hate": ("basic", "anger", "hate hates hated hatred"),
    "scared": ("basic", "fear", "scared scary afraid fear fears fearful frightened frightening"),
    "worried": ("basic", "fear", "worried worry worries worrying"),
    "nervous": ("basic", "fear", "nervous nervousness nerves"),
    "stressed": ("basic", "stress", "stressed stress stressful"),
    "lonely": ("basic", "loneliness", "lonely loneliness"),
    "happy": ("basic", "joy", "happy happiness glad joy joyful"),
    "excited": ("basic", "joy", "excited excitement thrilled delighted"),
    "love": ("basic", "love", "love loves loved loving"),
    "disgusted": ("basic", "disgust", "disgust disgusted disgusts revulsion"),
    "surprised": ("basic", "surprise", "surprised shocked shock stunned"),
    "exhausted": ("basic", "fatigue", "exhausted exhaustion exhausting drained"),
    "bored": ("basic", "boredom", "bored boredom"),
    # differentiated emotions (scored above basic ones)
    "grief": ("differentiated", "grief", "grief grieving grieve grieves mourning mourn bereft"),
    "heartbroken": ("differentiated", "grief", "heartbroken heartbreak heartbreaking heartache"),
    "devastated": ("differentiated", "grief", "devastated devastating devastation"),
    "sorrow": ("differentiated", "grief", "sorrow sorrowful"),
    "despair": ("differentiated", "helplessness", "despair despairing"),
    "hopeless": ("differentiated", "helplessness", "hopeless hopelessness"),
    "helpless": ("differentiated", "helplessness", "helpless helplessness powerless trapped"),
    "numb": ("differentiated", "numbness", "numb numbness empty emptiness hollow"),
    "disappointed": (
        "differentiated",
        "disappointment",
        "disappointed disappointment disappointing letdown",
    ),
    "discouraged": (
        "differentiated",
        "disappointment",
        "discouraged demoralised demoralized defeated crushed",
    ),
    "frustrated": ("differentiated", "frustration", "frustrated frustration frustrating"),
    "irritated": ("differentiated", "frustration", "irritated irritation annoyed annoyance"),
    "infuriated": ("differentiated", "anger", "infuriated infuriating"),
    "resentful": ("differentiated", "resentment", "resentful resentment resent bitter bitterness"),
    "betrayed": ("differentiated", "betrayal", "betrayed betrayal"),
    "disrespected": (
        "differentiated",
        "betrayal",
        "disrespected violated insulted offended wronged cheated",
    ),
    "humiliated": (
        "differentiated",
        "shame",
        "humiliated humiliating humiliation mortified embarrassed embarrassment embarrassing",
    ),
    "ashamed": ("differentiated", "shame", "ashamed shame shameful"),
    "guilty": ("differentiated", "guilt", "guilty guilt regret regrets remorse"),
    "jealous": ("differentiated", "envy", "jealous jealousy envious envy"),
    "anxious": ("differentiated", "anxiety", "anxious anxiety uneasy apprehensive tense restless"),
    "dread": ("differentiated", "anxiety", "dread dreading"),
    "panicked": ("differentiated", "anxiety", "panic panicked panicking"),
    "terrified": ("differentiated", "fear", "terrified terrifying petrified"),
    "overwhelmed": ("differentiated", "overwhelm", "overwhelmed overwhelming agonising agonizing"),
    "isolated": ("differentiated", "isolation", "isolated isolating isolation"),
    "abandoned": ("differentiated", "isolation", "abandoned unwanted unloved neglected"),
    "rejected": ("differentiated", "isolation", "rejected rejection excluded"),
    "forgotten": ("differentiated", "isolation", "forgotten invisible unseen"),
    "vulnerable": ("differentiated", "vulnerability", "vulnerable insecure inadequate"),
    "confused": (
        "differentiated",
        "confusion",
        "confused confusion confusing torn conflicted ambivalent unsure",
    ),
    "relieved": ("differentiated", "relief", "relieved relief"),
    "proud": ("differentiated", "pride", "proud pride"),
    "grateful": ("differentiated", "gratitude", "grateful gratitude thankful"),
    "hopeful": ("differentiated", "hope", "hopeful"),
    "longing": (
        "differentiated",
        "longing",
        "miss misses missing longing yearning homesick nostalgic wistful",
    ),
    "contempt": ("differentiated", "contempt", "contempt scorn loathing"),
}

#: Words that describe a situation by the feeling it causes. Predicated of a situation ("that must
#: be frustrating") they imply the user's feeling; predicated of the user ("you're exhausting",
#: "your panic is embarrassing") they are contempt.
ELICITORS = _word_set(
    "upsetting distressing painful depressing scary frightening worrying stressful exhausting",
    "heartbreaking devastating disappointing frustrating infuriating humiliating embarrassing",
    "terrifying overwhelming agonising agonizing isolating confusing",
)

#: Common insults (general English, written for the project). Negated ("you're not weak") or
#: reported ("calling others weak") uses are not counted.
INSULTS = _word_set(
    "pathetic loser losers idiot idiots idiotic stupid dumb moron morons whiny whining whiner",
    "whine crybaby weak weakling lazy worthless useless ignorant arrogant jerk jerks disgusting",
    "disgraceful ridiculous dramatic entitled snowflake selfish coward cowardly freak annoying",
    "hateful troll trolls spineless clueless fool foolish creep hysterical oversensitive wimp",
    "sissy scum trash garbage disgrace self-pity wallowing",
)

_PERSON_NOUNS = _word_set(
    "person people man woman guy girl boy human kind type loser jerk troll trolls"
)

_USER_MARKERS = _word_set(
    "you you're youre your yours yourself yourselves you've you'd you'll u ur"
)
_SELF_MARKERS = _word_set("i i'm im me my mine myself i've i'd i'll")
_THIRD_MARKERS = _word_set(
    "he she they him her them his hers their theirs he's she's they're someone somebody",
    "anyone anybody everyone everybody people others we we're us our",
)
_SITUATION_MARKERS = _word_set("that this it it's that's which what")
_PERCEPTION_VERBS = _word_set(
    "imagine hear see sense understand know tell guess bet get notice wonder"
)
_USER_BE = _word_set("are must feel felt seem might may were have")
_NEGATORS = _word_set("not no never nothing without nor stop quit")
_INTENSIFIERS = _word_set(
    "so really very quite a bit little kind sort of such too pretty incredibly deeply"
)
_FEEL_VERBS = _word_set("feel feels feeling felt")
_HOSTILE_FAMILIES = _word_set("anger disgust contempt")

_VALIDATION_PATTERNS = (
    r"\bmakes? (?:total |perfect |complete |a lot of |so much |good )?sense\b",
    r"\b(?:it'?s|it is|that'?s|that is|is|are|feels?) (?:completely |totally |perfectly |so |very "
    r"|entirely |really |quite )?(?:understandable|natural|normal|valid|okay|ok|human|fair|common|"
    r"reasonable|legitimate)\b",
    r"\bof course you\b",
    r"\bno wonder\b",
    r"\banyone (?:would|in your)\b",
    r"\bwho wouldn'?t\b",
    r"\byou'?re not alone\b",
    r"\byour (?:feelings|emotions|reaction) (?:are|is|make)\b",
    r"\byou have every right\b",
    r"\bnothing wrong with\b",
    r"\byou (?:deserve|deserved|didn'?t deserve)\b",
    r"\b(?:both|all of (?:that|this|them)) can (?:be true|exist)\b",
    r"\bmixed feelings\b",
)
_ACKNOWLEDGEMENT_PATTERNS = (
    r"\b(?:(?:it|that|this) )?sounds like\b",
    r"\b(?:it|that|this) sounds\b(?! like)",
    r"\b(?:it|that|this) must (?:be|have been|feel)\b",
    r"\bi can (?:only )?imagine\b",
    r"\bi imagine\b",
    r"\bi hear (?:you|that|how)\b",
    r"\bi can (?:hear|see|tell)\b",
    r"\bi understand\b",
    r"\b(?:that'?s|that is|what a|such a) (?:really |so |such |incredibly )?(?:a )?"
    r"(?:hard|tough|difficult|rough|heavy)\b",
    r"\bi'?m (?:so |really |very |truly )?sorry (?:about|for your|for what|you'?re|that you)\b",
    r"\bthank you for (?:sharing|telling|trusting)\b",
)
_EXPLORATION_PATTERNS = (
    r"\bhow are you (?:feeling|doing|holding up|coping)\b",
    r"\b(?:do|would) you (?:want|like) to talk\b",
    r"\b(?:i'?m|i am) (?:here|happy|glad) to listen\b",
    r"\bis (?:there )?(?:anyone|someone) (?:with you|you can)\b",
    r"\bwhat (?:are you|you'?re) feeling\b",
    r"\bwhat do you need\b",
    r"\btell me (?:more|what|about (?!it\b))",
)
_FORMULA_PATTERNS = (
    r"\bsorry to hear\b",
    r"\bsorry for your loss\b",
    r"\bsorry you feel that way\b",
    r"\bhope (?:it|things) gets? better\b",
    r"\bthat'?s too bad\b",
)
_DISMISSAL_PATTERNS = (
    r"\bget over (?:it|yourself)\b",
    r"\bmove on\b",
    r"\bstop (?:worrying|crying|whining|complaining|moaning|thinking about it|"
    r"feeling sorry for yourself|being (?:so )?\w+)\b",
    r"\bcheer up\b",
    r"\bman up\b",
    r"\btoughen up\b",
    r"\bsuck it up\b",
    r"\bgrow up\b",
    r"\bcalm down\b",
    r"\bsnap out of it\b",
    r"\bdon'?t be (?:so )?(?:sad|upset|dramatic|silly|a baby|negative|sensitive)\b",
    r"\bno (?:point|use|reason) (?:in )?(?:worrying|being|crying|feeling|getting)\b",
    r"\bthat'?s life\b",
    r"\bit is what it is\b",
    r"\b(?:it'?s|it was) (?:just|only) a\b",
    r"\bcould be worse\b",
    r"\blook on the bright side\b",
    r"\byou'?ll (?:be fine|get over it)\b",
    r"\bshould have (?:known|seen it coming)\b",
    r"\bwhatever\b",
    r"\bdeal with it\b",
    r"\bnot my problem\b",
    r"\byour (?:own )?fault\b",
    r"\bplenty of (?:other )?fish\b",
    r"\bhappens (?:all the time|to everyone)\b",
    r"\byou should be (?:happy|grateful|celebrating|glad)\b",
    r"\bnot a big deal\b",
)
_HOSTILE_FORMULA_PATTERNS = (
    r"\bshame on you\b",
    r"\bshut up\b",
    r"\bpeople like you\b",
    r"\b(?:nobody|no one|who) cares\b",
    r"\bgo away\b",
    r"\bget lost\b",
    r"\bwhat'?s wrong with you\b",
    r"\bi (?:hate|despise|loathe|can'?t stand) you\b",
    r"\beveryone hates you\b",
)
# "you're ...", "you sound ...", "your <thing> is ..." : what the user is called.
_USER_PREDICATE = re.compile(
    r"\b(?:you'?re|you are|you sound|you seem|you look|you were|your \w+(?: \w+)? "
    r"(?:is|are|was|sounds|seems))\b((?: [\w'-]+,?){1,5})"
)

_TOKEN = re.compile(r"[a-z]+(?:['-][a-z]+)*")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;:])\s+|\s+[-\u2013\u2014]+\s+|[\u2013\u2014]|\n+")


@dataclass(frozen=True)
class GlossaryEntry:
    """One feeling lemma: its specificity tier, family, and NRC emotion tags (may be empty)."""

    lemma: str
    tier: str
    family: str
    nrc: tuple[str, ...]


def _normalise(text: str) -> str:
    """Lower-case and straighten apostrophes so one set of patterns covers straight and curly."""
    return text.lower().replace("\u2019", "'").replace("\u2018", "'")


def tokenize(text: str) -> list[str]:
    """Simple regex tokens: lower-case words, keeping apostrophes and hyphens inside words."""
    return _TOKEN.findall(_normalise(text))


def nrc_lexicon_path() -> Path:
    """The NRC lexicon file inside the `nrclex` package (read as data; NRCLex's code and its
    TextBlob tokeniser are not used)."""
    return Path(str(resources.files("nrclex.data").joinpath("nrc_en.json")))


@cache
def nrc_lexicon() -> dict[str, frozenset[str]]:
    """NRC word -> its emotion tags (Plutchik's eight; the positive/negative tags are dropped)."""
    raw = json.loads(nrc_lexicon_path().read_text(encoding="utf-8"))
    return {
        word: frozenset(tag for tag in tags if tag in NRC_EMOTIONS)
        for word, tags in raw.items()
        if any(tag in NRC_EMOTIONS for tag in tags)
    }


@cache
def _nrc_negative_words() -> frozenset[str]:
    """NRC words tagged anger or disgust: what a contemptuous predicate of the user draws on."""
    return (
        frozenset(w for w, tags in nrc_lexicon().items() if tags & {"anger", "disgust"})
        - _FEEL_VERBS
    )


@cache
def glossary() -> dict[str, GlossaryEntry]:
    """Surface form -> glossary entry, with NRC tags merged over the lemma's forms."""
    lexicon = nrc_lexicon()
    entries: dict[str, GlossaryEntry] = {}
    for lemma, (tier, family, forms_text) in _GLOSSARY_SPEC.items():
        forms = forms_text.split()
        tags = sorted(set().union(*(lexicon.get(form, frozenset()) for form in forms)))
        entry = GlossaryEntry(lemma=lemma, tier=tier, family=family, nrc=tuple(tags))
        for form in forms:
            entries[form] = entry
    return entries


def _any_of(patterns: Sequence[str]) -> re.Pattern[str]:
    """One compiled alternation of a pattern family (one regex pass per sentence, not one each)."""
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


_VALIDATION = _any_of(_VALIDATION_PATTERNS)
_ACKNOWLEDGEMENT = _any_of(_ACKNOWLEDGEMENT_PATTERNS)
_EXPLORATION = _any_of(_EXPLORATION_PATTERNS)
_FORMULA = _any_of(_FORMULA_PATTERNS)
_DISMISSAL = _any_of(_DISMISSAL_PATTERNS)
_HOSTILE_FORMULA = _any_of(_HOSTILE_FORMULA_PATTERNS)


def _matches(pattern: re.Pattern[str], text: str) -> list[str]:
    """The distinct phrases a pattern family finds in the text, in order of appearance."""
    return list(dict.fromkeys(match.group(0) for match in pattern.finditer(text)))


def _is_negated(tokens: list[str], index: int) -> bool:
    """True when one of the three tokens before `index` negates it ("not angry", "don't be sad")."""
    for token in tokens[max(0, index - 3) : index]:
        if token in _NEGATORS or token.endswith("n't"):
            return True
    return False


def _derogations(sentence: str, tokens: list[str]) -> list[str]:
    """Insults and contemptuous predicates aimed at the user in one sentence."""
    found: list[str] = []
    glossary_words = glossary()
    for index, token in enumerate(tokens):
        if token not in INSULTS:
            continue
        before = tokens[max(0, index - 3) : index]
        reported = any(t in {"calling", "call", "called", "calls"} for t in before)
        if _is_negated(tokens, index) or reported:
            continue
        found.append(token)
    for match in _USER_PREDICATE.finditer(sentence):
        words = [w.strip(",") for w in match.group(1).split()]
        if words and words[0] in {"not", "never"}:
            continue
        for position, word in enumerate(words):
            if word in _FEEL_VERBS:
                break  # "you're feeling X" attributes a feeling, it does not call the user X
            is_person_noun_after = any(
                w in _PERSON_NOUNS for w in words[position + 1 : position + 3]
            )
            contempt = (
                word in ELICITORS
                or (word in _nrc_negative_words() and word not in glossary_words)
                or (word in glossary_words and is_person_noun_after)
            )
            if contempt and word not in found:  # a word already counted as an insult counts once
                found.append(f"{match.group(0).split()[0]} ... {word}")
                break
    found.extend(_matches(_HOSTILE_FORMULA, sentence))
    return found


def _attribute(tokens: list[str], index: int) -> str:
    """Whose feeling the emotion word at `index` is: 'user', 'situation', 'generic' or 'self'.

    Rules, in order: an experiencer right after the word ("disgusts me", "hurts my feelings",
    "how hurt you are"); else the nearest person marker before it within ten tokens, where
    "I can imagine / I hear / I understand how ..." passes through to the user; for words that
    describe a situation ("frustrating"), a situation pronoun counts as the user's feeling; an
    impersonal feeling frame ("it's natural to feel ...", "that must feel lonely") is the user's.
    """
    word = tokens[index]
    after = tokens[index + 1 : index + 3]
    if after[:1] in (["me"], ["myself"]) or after == ["my", "feelings"]:
        return "self"
    if after[:1] == ["you're"] or (after[:1] == ["you"] and after[1:] and after[1] in _USER_BE):
        return "user"  # "how hurt you are", "how lonely you must feel"
    saw_perception_verb = saw_feel_verb = False
    for back in range(index - 1, max(-1, index - 11), -1):
        token = tokens[back]
        saw_perception_verb = saw_perception_verb or token in _PERCEPTION_VERBS
        saw_feel_verb = saw_feel_verb or token in _FEEL_VERBS
        if token in _USER_MARKERS:
            return "user"
        if token in _SELF_MARKERS:
            return "user" if saw_perception_verb else "self"
        if token in _THIRD_MARKERS:
            return "generic"
        if token in _SITUATION_MARKERS and (saw_feel_verb or word in ELICITORS):
            return "user" if saw_feel_verb else "situation"
    if saw_feel_verb:
        return "user"
    return "situation" if word in ELICITORS else "generic"


def _frame_discovered(tokens: list[str], index: int) -> bool:
    """True for an NRC emotion word right after 'feel/feeling/felt' (past intensifiers)."""
    back = index - 1
    while back >= 0 and tokens[back] in _INTENSIFIERS:
        back -= 1
    return back >= 0 and tokens[back] in _FEEL_VERBS


class EmotionalAwarenessProxy:
    """Direction-aware emotional-awareness proxy after LEAS, using the NRC lexicon (see module doc).

    `score` returns one float per response (higher = more aware of the user's feelings);
    `components` explains one score term by term.
    """

    name = PROXY_NAME
    dimension = "emotional_awareness"

    def score(
        self, texts: Sequence[str], prompts: Sequence[str | None] | None = None
    ) -> np.ndarray:
        """Score responses (float64, shape (n,)); `prompts`, if given, are the user's messages."""
        if isinstance(texts, str):
            raise TypeError("score() takes a list of texts, not one string")
        if prompts is not None and len(prompts) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(prompts)} prompts")
        prompt_list = list(prompts) if prompts is not None else [None] * len(texts)
        return np.array(
            [self.components(t, p)["score"] for t, p in zip(texts, prompt_list, strict=True)],
            dtype=np.float64,
        )

    def components(self, text: str, prompt: str | None = None) -> dict[str, Any]:
        """Explain the score of one response: every emotion word found, whose it is, what it
        earned, the phrases that validated or dismissed, and the arithmetic of the total."""
        emotions: list[dict[str, Any]] = []
        validation: list[str] = []
        acknowledgement: list[str] = []
        exploration: list[str] = []
        formula: list[str] = []
        derogations: list[str] = []
        dismissals: list[str] = []
        n_tokens = 0
        for sentence in (s for s in _SENTENCE_SPLIT.split(_normalise(text)) if s.strip()):
            tokens = tokenize(sentence)
            n_tokens += len(tokens)
            sentence_derogations = _derogations(sentence, tokens)
            hostile = bool(sentence_derogations)
            derogations.extend(sentence_derogations)
            dismissals.extend(_matches(_DISMISSAL, sentence))
            if not hostile:
                validation.extend(_matches(_VALIDATION, sentence))
                acknowledgement.extend(_matches(_ACKNOWLEDGEMENT, sentence))
                exploration.extend(_matches(_EXPLORATION, sentence))
                formula.extend(_matches(_FORMULA, sentence))
            emotions.extend(self._emotion_words(tokens, hostile))
        return self._combine(
            text=text,
            prompt=prompt,
            n_tokens=n_tokens,
            emotions=emotions,
            validation=list(dict.fromkeys(validation)),
            acknowledgement=list(dict.fromkeys(acknowledgement)),
            exploration=list(dict.fromkeys(exploration)),
            formula=list(dict.fromkeys(formula)),
            derogations=derogations,
            dismissals=list(dict.fromkeys(dismissals)),
        )

    @staticmethod
    def _emotion_words(tokens: list[str], hostile: bool) -> list[dict[str, Any]]:
        """Every feeling word in one sentence, with its attribution and whether it can earn."""
        words = glossary()
        lexicon = nrc_lexicon()
        found = []
        for index, token in enumerate(tokens):
            entry = words.get(token)
            if entry is None:
                if token in lexicon and token not in INSULTS and _frame_discovered(tokens, index):
                    tags = tuple(sorted(lexicon[token]))
                    entry = GlossaryEntry(token, "basic", f"nrc:{tags[0]}", tags)
                else:
                    continue
            found.append(
                {
                    "word": token,
                    "lemma": entry.lemma,
                    "tier": entry.tier,
                    "family": entry.family,
                    "nrc": list(entry.nrc),
                    "attributed_to": _attribute(tokens, index),
                    "negated": _is_negated(tokens, index),
                    "in_hostile_sentence": hostile,
                }
            )
        return found

    @staticmethod
    def _combine(
        *,
        text: str,
        prompt: str | None,
        n_tokens: int,
        emotions: list[dict[str, Any]],
        **found: Any,
    ) -> dict[str, Any]:
        """Turn the found evidence into the score, keeping every term for the explanation."""
        w = WEIGHTS
        attribution_weight = {
            "user": w["attribution_user"],
            "situation": w["attribution_situation"],
            "generic": w["attribution_generic"],
            "self": w["attribution_self"],
        }
        credited: dict[str, float] = {}
        credited_families: set[str] = set()
        self_feelings = False
        for item in emotions:
            usable = not item["negated"] and not item["in_hostile_sentence"]
            weight = attribution_weight[item["attributed_to"]] if usable else 0.0
            item["credit"] = TIER_WEIGHTS[item["tier"]] * weight
            if (
                usable
                and item["attributed_to"] == "self"
                and item["family"] not in _HOSTILE_FAMILIES
            ):
                self_feelings = True  # the speaker's own, non-hostile feeling (for the blend)
            if item["credit"] > 0:
                credited[item["lemma"]] = max(credited.get(item["lemma"], 0.0), item["credit"])
                credited_families.add(item["family"])
        user_families = {
            e["family"] for e in emotions if e["credit"] > 0 and e["attributed_to"] == "user"
        }
        reflected: list[str] = []
        if prompt:
            prompt_emotions = EmotionalAwarenessProxy._emotion_words(tokenize(prompt), False)
            stated = {e["family"] for e in prompt_emotions if e["attributed_to"] == "self"}
            reflected = sorted(stated & user_families)
        terms = {
            "emotion_credit": sum(credited.values()),
            "diversity": w["diversity_per_extra_family"] * max(0, len(credited_families) - 1),
            "blend": w["blend"] if self_feelings and user_families else 0.0,
            "validation": min(w["validation_max"], w["validation_each"] * len(found["validation"])),
            "acknowledgement": min(
                w["acknowledgement_max"], w["acknowledgement_each"] * len(found["acknowledgement"])
            ),
            "exploration": min(
                w["exploration_max"], w["exploration_each"] * len(found["exploration"])
            ),
            "formula": w["formula"] if found["formula"] else 0.0,
            "reflection": w["reflection"] if reflected else 0.0,
        }
        positive = sum(terms.values())
        length_factor = max(1.0, math.sqrt(n_tokens / w["length_reference_tokens"]))
        penalty = w["derogation_each"] * len(found["derogations"]) + w["dismissal_each"] * len(
            found["dismissals"]
        )
        score = positive / length_factor - penalty
        return {
            "proxy": PROXY_NAME,
            "score": float(score),
            "text": text,
            "n_tokens": n_tokens,
            "emotions": emotions,
            "credited_lemmas": credited,
            "families": sorted(credited_families),
            "reflected_from_prompt": reflected,
            **found,
            "terms": terms,
            "positive": positive,
            "length_factor": length_factor,
            "penalty": penalty,
        }

    def explain(self, text: str, prompt: str | None = None) -> str:
        """A short, human-readable account of `components`, for showing a score in the book."""
        parts = self.components(text, prompt)
        named = ", ".join(
            f"{e['word']} ({e['attributed_to']}, {e['tier']}"
            + (", negated" if e["negated"] else "")
            + (", hostile sentence" if e["in_hostile_sentence"] else "")
            + f": {e['credit']:g})"
            for e in parts["emotions"]
        )
        lines = [
            f"score {parts['score']:.2f} = {parts['positive']:.2f} / {parts['length_factor']:.2f}"
            f" - {parts['penalty']:.2f}",
            f"emotion words: {named or 'none'}",
        ]
        for key in ("validation", "acknowledgement", "exploration", "formula", "derogations"):
            if parts[key]:
                lines.append(f"{key}: {'; '.join(parts[key])}")
        if parts["dismissals"]:
            lines.append(f"dismissals: {'; '.join(parts['dismissals'])}")
        return "\n".join(lines)


def nrc_intensity(texts: Sequence[str]) -> np.ndarray:
    """The naive baseline: NRC emotion-tagged tokens per token (direction-blind intensity)."""
    lexicon = nrc_lexicon()
    values = []
    for text in texts:
        tokens = tokenize(text)
        values.append(sum(t in lexicon for t in tokens) / max(1, len(tokens)))
    return np.asarray(values, dtype=np.float64)


# --- validation on the project's labelled set -----------------------------------------------------

LABEL_ORDER = {"low": 0, "medium": 1, "high": 2}
DEVELOPMENT_PROMPTS = frozenset(f"p{i:02d}" for i in range(1, 19, 2))
"""Prompts the rules were developed on (odd numbers); the even-numbered ones are held out."""


def labelled_set_path() -> Path:
    """The project's EA validation set (written by the authors, see EA_RUBRIC.md)."""
    return project_root() / "data" / "scorers" / "ea_labelled.csv"


def load_labelled_set(path: Path | None = None) -> pd.DataFrame:
    """The labelled responses with `prompt_id` (from `item_id`), `split` and ordinal `level`."""
    table = pd.read_csv(path or labelled_set_path(), dtype=str, keep_default_na=False)
    table["prompt_id"] = table["item_id"].str.split("-").str[0]
    table["split"] = np.where(table["prompt_id"].isin(DEVELOPMENT_PROMPTS), "dev", "held_out")
    table["level"] = table["label"].map(LABEL_ORDER)
    if table["level"].isna().any():
        bad = table.loc[table["level"].isna(), "label"].unique()
        raise ValueError(f"unknown labels in the EA set: {list(bad)}")
    return table


def _rowwise_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair (average ranks for ties); NaN where a row is constant."""
    rx = stats.rankdata(x, axis=1) - (x.shape[1] + 1) / 2
    ry = stats.rankdata(y, axis=1) - (y.shape[1] + 1) / 2
    denominator = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (rx * ry).sum(axis=1) / denominator, np.nan)


def _rank_agreement(labels: np.ndarray, scores: np.ndarray, seed: int, n_boot: int) -> dict:
    """Spearman's rho with a seeded item-bootstrap 95% CI, Kendall's tau-b, and n."""
    rho = float(stats.spearmanr(labels, scores).statistic)
    tau = float(stats.kendalltau(labels, scores).statistic)
    picks = np.random.default_rng(seed).integers(0, len(labels), (n_boot, len(labels)))
    boot = _rowwise_spearman(labels[picks], scores[picks])
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    return {
        "spearman_rho": rho,
        "spearman_ci95": [float(low), float(high)],
        "kendall_tau_b": tau,
        "n": len(labels),
    }


def _pairwise_accuracy(better: np.ndarray, worse: np.ndarray) -> float:
    """Share of (better, worse) pairs ranked the right way round; ties count one half."""
    diff = better[:, None] - worse[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def _separation(table: pd.DataFrame, score_column: str) -> dict[str, Any]:
    """How well a score ranks caring (high) replies above hostile-but-emotional ones."""
    hostile = table[table["style"] == "hostile_emotional"]
    caring = table[table["label"] == "high"]
    within = []
    for prompt_id, group in table.groupby("prompt_id"):
        h = group.loc[group["style"] == "hostile_emotional", score_column].to_numpy()
        c = group.loc[group["label"] == "high", score_column].to_numpy()
        if len(h) and len(c):
            within.append((prompt_id, _pairwise_accuracy(c, h)))
    return {
        "n_hostile": len(hostile),
        "n_caring": len(caring),
        "pairwise_accuracy": _pairwise_accuracy(
            caring[score_column].to_numpy(), hostile[score_column].to_numpy()
        ),
        "within_prompt_accuracy": float(np.mean([acc for _, acc in within])),
        "hostile_above_zero": int((hostile[score_column] > 0).sum()),
    }


def _discordance(levels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per item: the share of items with another label that the score orders the wrong way."""
    level_diff = np.sign(levels[:, None] - levels[None, :])
    score_diff = np.sign(scores[:, None] - scores[None, :])
    other_label = level_diff != 0
    wrong = other_label & (score_diff != level_diff)
    return wrong.sum(axis=1) / np.maximum(1, other_label.sum(axis=1))


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def validate_ea_proxy(
    path: Path | None = None, *, seed: int = 20251118, n_boot: int = 2000
) -> dict[str, Any]:
    """Score the labelled set and report how well the proxy ranks it (and the naive baseline).

    Returns Spearman's rho with a seeded bootstrap CI over items, Kendall's tau-b, per-label
    means, the hostile-vs-caring separation, the same on held-out prompts only, and provenance.
    """
    csv_path = Path(path) if path else labelled_set_path()
    table = load_labelled_set(csv_path)
    proxy = EmotionalAwarenessProxy()
    table["score"] = proxy.score(table["response"].tolist(), table["prompt"].tolist())
    table["score_no_prompt"] = proxy.score(table["response"].tolist())
    table["nrc_intensity"] = nrc_intensity(table["response"].tolist())
    levels = table["level"].to_numpy(dtype=float)

    def summary(part: pd.DataFrame, column: str) -> dict[str, Any]:
        return _rank_agreement(part["level"].to_numpy(float), part[column].to_numpy(), seed, n_boot)

    per_label = table.groupby("label")["score"].agg(["mean", "median", "count"])
    by_split = {
        name: {
            **summary(part, "score"),
            "n_prompts": int(part["prompt_id"].nunique()),
            "prompts": sorted(part["prompt_id"].unique()),
            "hostile_vs_caring": _separation(part, "score"),
        }
        for name, part in table.groupby("split")
    }
    table["discordance"] = _discordance(levels, table["score"].to_numpy())
    return {
        "proxy": PROXY_NAME,
        "dimension": "emotional_awareness",
        "what": (
            "agreement of the EA proxy with labels the project's authors wrote by EA_RUBRIC.md "
            "(a proxy validation set, not human-subject data)"
        ),
        "overall": {
            **summary(table, "score"),
            "n_prompts": int(table["prompt_id"].nunique()),
            "hostile_vs_caring": _separation(table, "score"),
        },
        "held_out_prompts": by_split["held_out"],
        "development_prompts": by_split["dev"],
        "without_prompt_context": summary(table, "score_no_prompt"),
        "per_label": {
            label: {
                "mean": float(row["mean"]),
                "median": float(row["median"]),
                "n": int(row["count"]),
            }
            for label, row in per_label.reindex(list(LABEL_ORDER)).iterrows()
        },
        "per_style_mean": {
            style: float(value)
            for style, value in table.groupby("style")["score"].mean().sort_values().items()
        },
        "baseline_nrc_intensity": {
            **summary(table, "nrc_intensity"),
            "hostile_vs_caring": _separation(table, "nrc_intensity"),
            "what": "NRC emotion-tagged tokens per token, ignoring who feels what",
        },
        "largest_disagreements": [
            {
                "item_id": row["item_id"],
                "label": row["label"],
                "style": row["style"],
                "score": round(float(row["score"]), 3),
                "share_of_other_label_items_misordered": round(float(row["discordance"]), 3),
            }
            for _, row in table.sort_values("discordance", ascending=False).head(8).iterrows()
        ],
        "settings": {"seed": seed, "n_boot": n_boot, "weights": WEIGHTS, "tiers": TIER_WEIGHTS},
        "provenance": {
            "labelled_set": csv_path.name,
            "labelled_set_sha256": _file_sha256(csv_path),
            "nrc_lexicon_sha256": _file_sha256(nrc_lexicon_path()),
            "versions": {
                name: importlib.metadata.version(name)
                for name in ("nrclex", "numpy", "scipy", "pandas")
            },
        },
    }


def write_validation_report(path: Path | str | None = None, **options: Any) -> Path:
    """Write `validate_ea_proxy()` as JSON (default `results/scorers/ea_validation.json`)."""
    target = Path(path) if path else project_root() / "results" / "scorers" / "ea_validation.json"
    report = validate_ea_proxy(**options)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return target
