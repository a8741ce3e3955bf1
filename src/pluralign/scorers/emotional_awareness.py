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

How one response is scored (weights in `WEIGHTS`, read with the word lists from
`lexicon/emotional_awareness.yml`):

=====================  =========================================================================
component              rule
=====================  =========================================================================
emotion credit         each *distinct* feeling lemma (the lexicon's glossary) attributed to the
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

The glossary, word lists, phrase patterns and weights are data (`lexicon/emotional_awareness.yml`,
shipped with the package and loaded once by `load_lexicon`); this module holds the rules that use
them. The proxy's version hashes both files (`SOURCE_FILES`). Its validation on the labelled set
is in `pluralign.scorers.validation`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

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

LEXICON_FILE = Path(__file__).resolve().parent / "lexicon" / "emotional_awareness.yml"
"""The proxy's data: weights, tier weights, the glossary, word lists and phrase patterns."""
SOURCE_FILES = (Path(__file__).resolve(), LEXICON_FILE)
"""What defines the proxy's scores (rules and data): its version hashes these files."""

_WORD_LISTS = (
    "elicitors",
    "insults",
    "person_nouns",
    "user_markers",
    "self_markers",
    "third_markers",
    "situation_markers",
    "perception_verbs",
    "user_be",
    "negators",
    "intensifiers",
    "feel_verbs",
    "hostile_families",
    "reporting_verbs",
)
_PATTERN_FAMILIES = (
    "validation",
    "acknowledgement",
    "exploration",
    "formula",
    "dismissal",
    "hostile_formula",
)


@dataclass(frozen=True)
class Lexicon:
    """The proxy's data as read from `LEXICON_FILE` (see that file for what each part means)."""

    weights: dict[str, float]
    tier_weights: dict[str, float]
    glossary: dict[str, tuple[str, str, tuple[str, ...]]]
    """lemma -> (tier, family, surface forms), in file order."""
    words: dict[str, frozenset[str]]
    patterns: dict[str, tuple[str, ...]]


def _numbers(section: Any, name: str) -> dict[str, float]:
    if not isinstance(section, Mapping) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in section.values()
    ):
        raise ValueError(f"{LEXICON_FILE}: `{name}` must map names to numbers")
    return {str(key): float(value) for key, value in section.items()}


def _strings(values: Any, name: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{LEXICON_FILE}: `{name}` must be a list of strings")
    return values


@cache
def load_lexicon(path: Path = LEXICON_FILE) -> Lexicon:
    """Read and check the lexicon file once per process (a malformed file fails loudly here)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    missing = {"weights", "tier_weights", "glossary", "words", "patterns"} - set(data or {})
    if missing:
        raise ValueError(f"{path}: missing sections {sorted(missing)}")
    tier_weights = _numbers(data["tier_weights"], "tier_weights")
    glossary: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    seen: set[str] = set()
    for lemma, entry in data["glossary"].items():
        tier, family, forms = entry.get("tier"), entry.get("family"), entry.get("forms")
        if tier not in tier_weights or not isinstance(family, str) or not isinstance(forms, str):
            raise ValueError(f"{path}: glossary entry {lemma!r} needs a known tier, family, forms")
        if seen & set(forms.split()):
            raise ValueError(f"{path}: {lemma!r} repeats forms {sorted(seen & set(forms.split()))}")
        seen |= set(forms.split())
        glossary[str(lemma)] = (tier, family, tuple(forms.split()))
    return Lexicon(
        weights=_numbers(data["weights"], "weights"),
        tier_weights=tier_weights,
        glossary=glossary,
        words={
            name: frozenset(" ".join(_strings(data["words"].get(name), name)).split())
            for name in _WORD_LISTS
        },
        patterns={
            name: tuple(_strings(data["patterns"].get(name), name)) for name in _PATTERN_FAMILIES
        },
    )


_LEXICON = load_lexicon()
WEIGHTS: dict[str, float] = _LEXICON.weights
"""Every weight the score uses; `components` reports each term so a score can be re-derived."""
TIER_WEIGHTS: dict[str, float] = _LEXICON.tier_weights
"""Specificity of a feeling word, after LEAS levels 1-3 (one level added for nuanced words)."""
ELICITORS = _LEXICON.words["elicitors"]
"""Words that describe a situation by the feeling it causes (contempt when said of the user)."""
INSULTS = _LEXICON.words["insults"]
"""Common insults; negated or reported uses are not counted."""
_PERSON_NOUNS = _LEXICON.words["person_nouns"]
_USER_MARKERS = _LEXICON.words["user_markers"]
_SELF_MARKERS = _LEXICON.words["self_markers"]
_THIRD_MARKERS = _LEXICON.words["third_markers"]
_SITUATION_MARKERS = _LEXICON.words["situation_markers"]
_PERCEPTION_VERBS = _LEXICON.words["perception_verbs"]
_USER_BE = _LEXICON.words["user_be"]
_NEGATORS = _LEXICON.words["negators"]
_INTENSIFIERS = _LEXICON.words["intensifiers"]
_FEEL_VERBS = _LEXICON.words["feel_verbs"]
_HOSTILE_FAMILIES = _LEXICON.words["hostile_families"]
_REPORTING_VERBS = _LEXICON.words["reporting_verbs"]


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
    for lemma, (tier, family, forms) in _LEXICON.glossary.items():
        tags = sorted(set().union(*(lexicon.get(form, frozenset()) for form in forms)))
        entry = GlossaryEntry(lemma=lemma, tier=tier, family=family, nrc=tuple(tags))
        for form in forms:
            entries[form] = entry
    return entries


def _any_of(patterns: Sequence[str]) -> re.Pattern[str]:
    """One compiled alternation of a pattern family (one regex pass per sentence, not one each)."""
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


_VALIDATION = _any_of(_LEXICON.patterns["validation"])
_ACKNOWLEDGEMENT = _any_of(_LEXICON.patterns["acknowledgement"])
_EXPLORATION = _any_of(_LEXICON.patterns["exploration"])
_FORMULA = _any_of(_LEXICON.patterns["formula"])
_DISMISSAL = _any_of(_LEXICON.patterns["dismissal"])
_HOSTILE_FORMULA = _any_of(_LEXICON.patterns["hostile_formula"])


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
        reported = any(t in _REPORTING_VERBS for t in before)
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
