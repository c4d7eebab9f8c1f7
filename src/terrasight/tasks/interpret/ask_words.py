"""The words questions are read with: class synonyms, places, change verbs, question prototypes.

A leaf module of constants (regular expressions as text, compiled where used),
so that the parser and the answers share one definition of each word.
"""

from __future__ import annotations

from terrasight.tasks.questions import PAIR_TYPES

QUESTION_TYPES = PAIR_TYPES
"""What a question about a pair asks for (:data:`terrasight.tasks.questions.PairQuestion`);
answers of another kind are ``"unanswerable"``."""

TYPE_WORDS = {
    "presence": "whether something changed",
    "count": "how many changes there are",
    "area": "how much area changed",
    "location": "where the changes are",
    "class": "what land cover changed",
    "comparison": "which of two places or classes changed more",
    "listing": "which changes there are",
    "length": "how long or wide a change is",
    "date": "the dates of the images",
    "cloud": "clouds in the images",
}
"""Question type -> what it asks about, in words ("I read this as a question about ...")."""

CLASS_WORDS: dict[str, str] = {
    "built-up": (
        r"buildings?|houses?|housing|homes?|villas?|residential(?: areas?)?|built[- ]?up(?: areas?)?"
        r"|urban(?: areas?)?|settlements?|structures?|roofs?|warehouses?|factor(?:y|ies)"
        r"|apartments?|sheds?|dwellings?|built areas?"
    ),
    "road": r"roads?|streets?|highways?|motorways?|freeways?|avenues?|paved roads?",
    "vegetation": (
        r"trees?|forests?|woods?|woodlands?|grass(?:land)?s?|vegetation|bush(?:es)?|shrubs?"
        r"|greenery|green areas?|meadows?|plants?"
    ),
    "water": r"water|lakes?|rivers?|ponds?|reservoirs?|sea|streams?|canals?|wetlands?",
    "farmland": r"fields?|crops?|farm ?lands?|farms?|agricultur(?:e|al land)|croplands?|orchards?",
    "bare land": (
        r"soil|deserts?|bare ?land|bare ground|bare soil|sand|dirt|barren(?: land)?"
        r"|cleared land|open ground"
    ),
}
"""Land-cover class -> a regular expression of the words that name it."""

NEW_WORDS = (
    r"new|newly|appear(?:ed|s)?|built|constructed|construction|added|gain(?:ed)?|expand(?:ed|s)?"
    r"|expansion|gr[eo]w(?:n|s)?|growth|increas(?:e|ed|es)|emerged?|created|planted|developed"
    r"|appearance|more"
)
"""Words saying that a class appeared (after is the class, before was not)."""

LOST_WORDS = (
    r"lost|loss|los[ei]|remov(?:ed|al)|disappear(?:ed|s)?|gone|demolish(?:ed)?|destroy(?:ed)?"
    r"|cleared|clearing|cut(?: down)?|shr[iau]nk|shrinks|decreas(?:e|ed|es)|reduc(?:ed|tion)"
    r"|deforest(?:ation|ed)|razed|drained|dried(?: up)?|torn down|felled|vanish(?:ed)?"
    r"|no longer|fewer|missing|less"
)
"""Words saying that a class was lost (before was the class, after is not)."""

TRANSITION = (
    r"became|become|becomes|turn(?:ed|s)? into|convert(?:ed|s)? (?:in)?to|chang(?:ed|es) (?:in)?to"
    r"|replaced (?:by|with)|gave way to|made into"
)
"""Verbs of one class becoming another: the class named before the verb was lost, the one
after it is new ("did the forest turn into fields?")."""


VERB_CLASSES: dict[str, tuple[str, str]] = {
    r"flood(?:ed|ing|s)?": ("water", "new"),
    r"built|constructed|construction|demolish(?:ed)?|torn down": ("built-up", ""),
    r"paved": ("road", "new"),
    r"deforest(?:ation|ed)|felled|logged": ("vegetation", "lost"),
    r"(?:land )?clear(?:ed|ing)": ("vegetation", "lost"),
}
"""Verbs that name a class by themselves ("was anything flooded?"): (class, polarity);
an empty polarity is read from the verb as usual."""

UNSUPPORTED_THINGS = (
    r"cars?|vehicles?|trucks?|lorr(?:y|ies)|buses|ships?|boats?|vessels?|planes?|airplanes?"
    r"|aircraft|people|persons?|crowds?|animals?|cows?|cattle|sheep|birds?|snow|ice|glaciers?"
    r"|solar panels?|swimming pools?|pools?|tents?|traffic|bridges?|rail(?:way)?s?|trains?"
    r"|containers?|cranes?|population|temperature|prices?|weather|airports?|airfields?"
    r"|runways?|stadiums?|harbou?rs?|ports?|docks?|piers?|parks?|playgrounds?|golf courses?"
    r"|mines?|quarr(?:y|ies)|dams?|towers?|wind ?turbines?|pylons?|power lines?|schools?"
    r"|hospitals?|churche?s?|mosques?|temples?|malls?|shops?|parking(?: lots?)?|car parks?"
    r"|fences?|walls?|graves?|cemeter(?:y|ies)|tracks?"
)
"""Things a change question may name that the land-cover vocabulary does not know."""

THIRD_DATE = (
    r"\b(?:1[89]\d\d|20\d\d)s?\b|\bthird (?:image|date|photo|picture|time)|\banother (?:date|year)"
    r"|\bnext (?:year|month|decade|week|summer|winter)|\blast (?:year|month|decade|week)"
    r"|\b(?:in|into) the future\b|\bwill\b|\bpredict|\bforecast|\bgoing to\b|\btomorrow\b"
    r"|\byesterday\b|\b(?:years?|months?|decades?) (?:ago|from now|later)\b|\bbefore the first"
    r"|\bafter the (?:second|last) (?:image|date)|\bsince then\b"
)
"""Phrases about a time other than the two dates of the pair."""

WHY = r"^\s*(?:why|who|whose|how come)\b|\bwhat caused\b|\bthe reason\b|\bwho (?:built|owns)\b"
"""Questions about causes or people, which images of two dates do not show."""

DIRECTION_WORDS: tuple[tuple[str, str], ...] = (
    (r"(north|south)[\s-]?(east|west)(?:ern)?(?: (?:part|corner|side|quarter))?", "{0}-{1}"),
    (r"(?:upper|top)[\s-](left|right)", "north-{0}"),
    (r"(?:lower|bottom)[\s-](left|right)", "south-{0}"),
    (r"(north|south|east|west)(?:ern)?\b", "{0}"),
    (r"(?:the )?(?:centre|center|middle|central)(?: part| area)?", "centre"),
    (r"(?:the top|top (?:half|part|side|edge)|upper (?:half|part|side))", "north"),
    (r"(?:the bottom|bottom (?:half|part|side|edge)|lower (?:half|part|side))", "south"),
    (
        r"(?:the (left|right)(?: side| half| part| edge)?|(left|right)[\s-](?:side|half|part|edge))",
        "{0}",
    ),
)
"""(pattern, direction template): ``left`` reads west and ``right`` east; a direction of
two words covers one grid cell, one word three (``north``: the northern row)."""

SIDES = {"left": "west", "right": "east"}

UNITS = {
    "%": r"%|per ?cent(?:age)?|share|fraction|proportion|part of the (?:scene|image|area)",
    "ha": r"hectares?|\bha\b",
    "km2": r"km2|km²|square kilomet(?:re|er)s?|sq\.? ?km",
    "m2": r"\bm2\b|m²|square met(?:re|er)s?|sq\.? ?m\b",
    "acre": r"\bacres?\b",
    "mi2": r"\bmi2\b|square miles?|sq\.? ?mi(?:les?)?\b",
    "px": r"pixels?|\bpx\b",
}
"""Area unit -> the words that ask for it."""

LENGTH_UNITS = {
    "km": r"\bkm\b|\bkilomet(?:re|er)s?\b",
    "mi": r"\bmiles?\b|\bmi\b",
    "m": r"\bm\b|\bmet(?:re|er)s?\b",
    "px": r"pixels?|\bpx\b",
}
"""Length unit -> the words that ask for it (read only in questions of length)."""

GENERIC_NOUNS = frozenset(
    """change changes changed thing things anything something everything object objects area
    areas region regions feature features patch patches part parts place places one ones land
    ground surface development developments difference differences stuff lot lots of in on at
    to the a an that this there here them it new any more fewer some all each every hectares
    hectare acres acre pixels pixel square metres meters km km2 m2 ha percent image images
    scene picture photo difference big large small tiny huge major minor elongated compact long
    thin narrow round wide linear""".split()
)
"""Words a question may put where a thing would be named ("any new changes?") that name no
land cover of their own."""

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twenty": 20,
}

ENGLISH = frozenset(
    """a about above after all an and any anything are area areas around as at be become
    became been before being below between biggest bigger both but by can change changed
    changes changing compare compared count did differ difference do does done each east
    everything few fewer for from get got grew had has have how i if image images in into is
    it its larger largest least less list many me more most much new no not now number of on
    one or other over part parts percent percentage place places region scene show side small
    smaller smallest so some something south than that the their there these they this those
    to total under up was were west what when where which while with within north
    happen happened happening land ground any size square tell give name there's what's
    where's lost shrink grow compared appear disappear most objects object ones""".split()
)
"""Plain English words; a question with none of them (and no slot word) is not read."""

PROTOTYPES: dict[str, tuple[str, ...]] = {
    "presence": (
        "has anything changed?",
        "is there any change in this area?",
        "did the forest shrink?",
        "are there new buildings?",
        "was any land flooded?",
    ),
    "count": (
        "how many changes are there?",
        "how many new buildings are there?",
        "what is the number of changed objects?",
        "count the changes",
    ),
    "area": (
        "how much area changed?",
        "what percentage of the scene changed?",
        "how large is the changed area in hectares?",
        "how much land was affected?",
        "what is the total size of the changes?",
    ),
    "location": (
        "where is the largest change?",
        "where did most change happen?",
        "in which part of the image are the changes?",
        "which side of the scene changed?",
    ),
    "class": (
        "what was built?",
        "what did the forest become?",
        "what kind of land cover changed?",
        "what was there before?",
    ),
    "comparison": (
        "is there more change in the east or in the west?",
        "is the north more changed than the south?",
        "which changed more, the left or the right side?",
    ),
    "listing": (
        "list the changes in the south-west",
        "which objects are elongated?",
        "show me every change",
        "give me all the changed areas",
    ),
}
"""A few typical questions per type: a question the rules cannot type goes to the nearest
one (cosine of sentence embeddings)."""

MIN_SIMILARITY = 0.6
"""Below this cosine to every prototype the sentence model's guess is not trusted: the
question is refused with the list of question types (a guess of 0.49 read "explain the
picture to me" as a question of where)."""
