"""The risk cue lexicons: phrases per category and kind, and the phrases that only look like risk.

Lexicon names are "category:kind". The kind says what a phrase is about (see risk.py for how a
phrase, its clause, its speaker and the exchange it sits in become a stance):
  - suicidal_ideation: passive (wishing to be dead), active (thinking of killing oneself),
    attempt (a past attempt), third (someone else's suicide, by its grammar);
  - self_harm: current (hurting oneself, cutting);
  - harm_to_others: perpetrator (the speaker hurting or threatening someone);
  - abuse_neglect: victim (someone hurting the speaker: "he hits me"), dependent (a child, an
    elder or a dependent adult hurt or left without care), safe (a statement of safety:
    "i feel safe at home", which a negation turns into a disclosure);
  - overdose: current (a substance overdose).
A cue written with a contraction also finds its spelled-out form (matching.variants).
Every phrase is whole words; "exclude" phrases veto any cue they contain ("cutting back").
"""
from __future__ import annotations

LABELS = {
    "suicidal_ideation": "suicidal ideation",
    "self_harm": "self-harm",
    "harm_to_others": "harm to others or violence",
    "abuse_neglect": "abuse, neglect or violence",
    "overdose": "substance overdose",
}
CATEGORIES = tuple(LABELS)
# How an answer line names what was asked ("Asked about thoughts of suicide; client said: ...").
ASKED_ABOUT = {
    "suicidal_ideation": "thoughts of suicide",
    "self_harm": "self-harm",
    "harm_to_others": "harming others",
    "abuse_neglect": "safety, abuse or neglect",
    "overdose": "overdose",
}

_SELF_SI_ACTIVE = (
    "kill myself", "killing myself", "end my life", "ending my life", "end my own life", "end it all",
    "ending it all", "take my life", "take my own life", "taking my own life", "suicidal", "suicide",
    "hang myself", "hanging myself", "shoot myself", "shooting myself", "slit my wrists",
    "jump off a bridge", "jump off the bridge", "jump off the roof", "jump in front of",
    "step in front of a train", "drive off the road", "drive into a wall", "off myself", "kms", "unalive myself",
)
_SELF_SI_PASSIVE = (
    "want to die", "wanna die", "wanted to die", "wants to die", "wish i was dead", "wish i were dead",
    "wish i wasn't here", "wish i weren't here", "wish i wasn't alive", "better off dead",
    "better off without me", "don't want to be here anymore", "don't want to be alive anymore",
    "don't want to live", "don't wanna live", "don't want to be alive", "don't want to exist",
    "no reason to live", "nothing to live for", "not worth living", "point in living",
    "tired of living", "tired of being alive", "and never wake up", "just never wake up", "never wake up again",
    "just not wake up", "and not wake up", "to not wake up", "not to wake up", "not wake up again",
    "hope i don't wake up", "hoping i don't wake up", "wish i didn't wake up", "wish i wouldn't wake up",
    "if i didn't wake up", "if i don't wake up", "go to sleep forever", "wish i could disappear",
    "disappear forever", "don't live anymore", "didn't live anymore", "wasn't alive anymore",
    "if i was gone", "if i were gone", "if i wasn't around", "if i weren't around", "if i'm not around",
    "not be around anymore", "wasn't here anymore", "if i wasn't here", "if i weren't here",
    "if i wasn't alive", "rather be dead", "rather not be alive", "can't go on like this",
    "can't go on anymore", "can't go on living", "cannot go on like this", "can't keep living",
    "want it all to end", "want everything to end", "want to go to sleep and never",
    "think about dying", "thinking about dying", "thoughts about dying", "thought about dying",
    "wish i could die", "wished i would die", "wish i would die", "ready to die", "want to end it",
    "wanted to end it", "no point in living", "no point going on", "no point in going on",
    "life isn't worth living", "life is not worth living", "done with life", "given up on life",
    "give up on living", "what's the point of living", "pray i don't wake up", "better off if i wasn't",
    "better off if i weren't", "better off without me around", "better off if i just disappeared", "better off if i disappeared",
)
_YOU_SI = (
    "kill yourself", "killing yourself", "end your life", "ending your life", "take your life",
    "take your own life", "hang yourself", "shoot yourself", "thoughts of death", "thoughts of dying",
    "want to die", "wish you were dead", "better off dead", "not being alive",
    "not wanting to live", "life isn't worth living", "life is not worth living", "not wanting to be here",
    "not wanting to be alive", "not want to be here", "not want to be alive",
    # means, asked of the client only: "do you have access to a gun?"
    "you have access to a gun", "you have access to guns", "you have access to firearms", "you have a gun",
    "you have any guns", "you own a gun", "guns in your home", "gun in your home", "gun in your house",
    "guns in your house", "you have access to pills",
)
_SI_ATTEMPT = (
    "tried to kill myself", "tried killing myself", "attempted suicide", "suicide attempt",
    "tried to end my life", "tried to end it", "tried to take my life", "tried to take my own life",
    "tried to hang myself", "tried to overdose", "took a bunch of pills", "took a whole bottle",
    "swallowed a bottle", "swallowed all my pills", "slit my wrists", "tried to kill yourself",
    "attempted to kill yourself", "attempts on your life",
)
_SI_THIRD = (
    "killed himself", "killed herself", "killed themselves", "kill himself", "kill herself",
    "killing himself", "killing herself", "took his own life", "took her own life", "took his life",
    "took her life", "committed suicide", "died by suicide", "death by suicide", "kills himself",
    "kills herself",
)

# Physical violence, every verb form with every object: "i shoved her", "he slapped me".
_VIOLENT_VERBS = ("hit", "hits", "hitting", "slap", "slapped", "slapping", "slaps", "push", "pushed", "pushing",
                  "shove", "shoved", "shoving", "punch", "punched", "punching", "kick", "kicked", "kicking",
                  "choke", "choked", "choking", "strangle", "strangled", "strangling", "smack", "smacked",
                  "smacking", "beat", "beats", "beating", "grab", "grabbed", "grabbing", "bit", "bite",
                  "threw something at", "throw something at", "threw a plate at", "threw a glass at")
_PARTNERS = ("him", "her", "them", "my wife", "my husband", "my partner", "my girlfriend", "my boyfriend",
             "my ex", "my mom", "my dad", "my mother", "my father", "my brother", "my sister", "someone",
             "somebody", "anyone", "people", "your partner", "your wife", "your husband", "your girlfriend",
             "your boyfriend")
_DEPENDENTS = ("my son", "my daughter", "my kid", "my kids", "the kids", "the baby", "my baby", "our son",
               "our daughter", "my children", "the children", "your kids", "your children", "my grandmother",
               "my grandfather", "my mom's", "my patient")
_VIOLENCE_EXCLUDE = tuple(
    f"{v} {o} {tail}" for v in ("push", "pushed", "pushing", "pushes") for o in ("him", "her", "them", "me", "you")
    for tail in ("away", "to", "into therapy", "too hard", "harder")
) + tuple(f"{v} {o} out" for v in ("kick", "kicked", "kicking", "kicks") for o in ("him", "her", "them", "me", "you")) + tuple(
    f"{v} {o} {tail}" for v in ("hit", "hits", "hitting") for o in ("him", "her", "them", "me", "you")
    for tail in ("up", "with the news")
) + tuple(f"{v} {o} {tail}" for v in ("beat", "beats", "beating") for o in ("him", "her", "them", "me", "you")
          for tail in ("at", "to it", "to the", "in a race")
) + tuple(f"{v} {o} {tail}" for v in ("grab", "grabbed", "grabbing") for o in ("him", "her", "them", "me", "you")
          for tail in ("a", "some", "lunch", "coffee", "dinner")
) + tuple(f"{v} {o}" for v in ("bit", "bite") for o in ("him", "her", "them", "me", "you", "people", "someone")) + (
    "it hit her", "it hit him", "it hits her", "it hits him", "that hit her", "that hit him",
)

RISK_CUES: dict[str, tuple[str, ...]] = {
    "suicidal_ideation:active": _SELF_SI_ACTIVE + _YOU_SI[:8],
    "suicidal_ideation:passive": _SELF_SI_PASSIVE + _YOU_SI[8:],
    "suicidal_ideation:attempt": _SI_ATTEMPT,
    "suicidal_ideation:third": _SI_THIRD,
    # A statement of safety: affirmed it is a denial, negated ("i can't keep myself safe") a disclosure.
    "suicidal_ideation:safe": ("keep myself safe", "keep yourself safe", "keeping myself safe",
                               "keeping yourself safe", "stay safe tonight", "safe from myself"),
    "self_harm:current": (
        "hurt myself", "hurting myself", "harm myself", "harming myself", "self harm", "self-harm",
        "self harming", "self-harming", "self injury", "self-injury", "cut myself", "cutting myself",
        "cutting", "i cut", "used to cut", "started to cut", "cut again", "burn myself", "burning myself",
        "burned myself", "hit myself", "hitting myself", "punch myself", "scratch myself",
        "scratching myself", "bang my head", "banging my head", "hurt yourself", "hurting yourself",
        "harm yourself", "harming yourself", "cut yourself", "cutting yourself", "burn yourself",
        "cut on my", "cuts on my", "scars on my", "cuts herself", "cuts himself", "cut herself",
        "cut himself", "cutting herself", "cutting himself", "hurts herself", "hurts himself",
        "hurting herself", "hurting himself", "self harms", "self-harms",
    ),
    "harm_to_others:perpetrator": (
        "kill him", "kill her", "kill them", "kill someone", "kill somebody", "kill people", "kill you",
        "killing him", "killing her", "killing them", "killing someone", "killing people",
        "hurt him", "hurt her", "hurt them", "hurt someone", "hurt somebody", "hurt anyone", "hurt anybody",
        "hurt people", "hurt others", "hurting him", "hurting her", "hurting them", "hurting someone",
        "hurting anyone", "hurting other people", "harm anyone", "harm someone", "harm others",
        "harming others", "harming anyone", "hurt other people", "harm other people",
        "hit him", "hit her", "hitting him", "hitting her", "hit my wife", "hit my husband",
        "hit my girlfriend", "hit my boyfriend", "hit my partner", "hit your partner", "hit your wife",
        "hit your husband", "hurt your partner", "hurt your wife", "hurt your husband",
        "pushed her", "pushed him", "shoved her", "shoved him", "slapped her", "slapped him",
        "choked her", "choked him", "strangled her", "strangled him", "punched him", "punched her",
        "punch him", "punch her", "beat him", "beat her", "beat them", "beat him up", "beat her up",
        "grabbed her", "grabbed him", "threw something at", "threw a glass at", "put my hands on",
        "got physical with", "gets physical with", "physical with her",
        "physical with him", "violent", "violence", "threatened him", "threatened her",
        "threatened to kill", "threaten to kill", "make him pay", "make her pay", "make them pay",
        "get a gun", "got a gun", "shoot him", "shoot her", "shoot them", "stab him", "stab her",
        *(f"{v} {o}" for v in _VIOLENT_VERBS for o in _PARTNERS), "broke his", "broke her",
        "homicidal", "wanted to kill", "want to kill", "i could kill", "hurting others",
        "yourself or others", "yourself or anyone else", "yourself or someone else", "yourself or other people",
    ),
    "abuse_neglect:victim": (
        "hits me", "hit me", "hitting me", "beats me", "beat me", "beating me", "beat me up", "slapped me",
        "slaps me", "choked me", "chokes me", "choking me", "strangled me", "kicked me", "kicks me",
        "pushed me", "pushes me", "shoved me", "punched me", "punches me", "grabbed me", "threw me",
        "threatens me", "threatened me", "threatened to kill me", "threatens to kill me",
        "said he'd kill me", "said she'd kill me", "said he would kill me", "said she would kill me",
        "hurts me", "hurt me", "hurting me", "touched me", "touches me", "molested", "raped",
        "abused me", "abuses me", "abusing me", "abusive", "abuse", "abused", "afraid to go home",
        "scared to go home", "afraid of him", "afraid of her", "scared of him", "scared of her",
        "locks me", "locked me in", "takes my money", "took my money", "controls my money",
        "anyone hurting you", "anyone hurt you", "someone hurting you", "anyone hitting you",
        "anyone hit you", "hurt you at home", "hit you", "hurts you", "hits you", "afraid of your",
        "scared of your", "domestic violence", *(f"{v} me" for v in _VIOLENT_VERBS),
    ),
    "abuse_neglect:dependent": (
        "neglect", "neglected", "neglecting", "hit my son", "hit my daughter", "hit my kid",
        "hit my kids", "hit the kids", "hit the baby", "hits the kids", "hits my son", "hits my daughter",
        *(f"{v} {o}" for v in _VIOLENT_VERBS for o in _DEPENDENTS), "hit our son", "hit our daughter",
        "beat my son", "beat my daughter", "beats the kids",
        "left the kids alone", "leave the kids alone", "left the baby alone", "leave the baby alone",
        "kids home alone", "with a belt", "nobody feeds",
        "doesn't feed", "don't feed", "not feeding", "hadn't been bathed", "hasn't been bathed",
        "not been bathed", "hadn't been fed", "hasn't been fed", "not been fed", "nobody had given her",
        "nobody had given him", "nobody feeds her", "nobody feeds him", "bed sores", "bedsores",
        "left alone for days", "no one checks on", "nobody checks on", "left him alone for days", "left her alone for days",
        "no food in the house", "hit your kids", "hit your children",
    ),
    "abuse_neglect:safe": (
        "safe at home", "safe with him", "safe with her", "safe with them", "safe in your home",
        "safe in my home", "safe where i live", "safe where you live", "safe in your relationship",
        "safe in my relationship", "safe in the house",
    ),
    "overdose:current": (
        "overdose", "overdosed", "overdosing", "od", "od'd", "narcan", "naloxone",
        "took too many pills", "take too many pills", "too many pills", "stomach pumped",
        "woke up in the hospital", "nearly died from", "almost died from",
    ),
}

# Phrases that hold a cue but are no risk: idioms, feelings, accidents, someone else's habit.
EXCLUDE: dict[str, tuple[str, ...]] = {
    "self_harm": (
        "cutting back", "cutting down", "cutting out", "cutting off", "cutting it", "cutting the",
        "cutting class", "cutting corners", "cutting hair", "cutting costs", "cutting ties", "cutting carbs",
        "cutting sugar", "cutting my hair", "cutting grass", "cutting the grass", "cutting wood",
        "cutting edge", "cutting remarks", "cutting in", "i cut back", "i cut down", "i cut out",
        "i cut off", "i cut my hair", "i cut it", "i cut the", "i cut ties", "i cut them off",
        "i cut him off", "i cut her off", "i cut class", "i cut school", "cut again and again",
        "fall and hurt myself", "fell and hurt myself", "hurt myself in the fall", "hurt myself falling",
        "hurt myself at the gym", "hurt myself playing", "hurt myself lifting", "hurt myself running",
        "hurt myself at work", "hurt myself in the long run", "hurt yourself in the long run",
        "fall and hurt yourself", "hurt yourself in this fall", "hurt yourself in the fall",
        "hurt yourself falling", "hurt yourself at the gym", "hurt myself financially",
    ),
    "harm_to_others": (
        *_VIOLENCE_EXCLUDE, "hurt her feelings", "hurt his feelings", "hurt their feelings", "hurt them emotionally",
        "hurt him emotionally", "hurt her emotionally", "hit him up", "hit her up", "hit them up",
        "hit it off", "kill them with kindness", "beat him at", "beat her at", "beat them at",
        "beat him to", "beat her to", "beat them to", "kill you for", "i could kill for",
        "want to kill time", "wanted to kill time", "kill you if you", "violent video game",
        "violent movie", "violent movies", "violent show", "violent shows", "violent games",
        "non violent", "non-violent", "nonviolent", "want to kill myself", "wanted to kill myself",
        "want to kill yourself", "wanted to kill yourself", "i could kill myself", "want to kill me",
        "violence hotline", "violence shelter",
        "violence program", "violence services", "violence advocate", "violence counselor",
        "domestic violence hotline", "domestic violence shelter", "domestic violence program",
        "domestic violence services", "domestic violence advocate", "domestic violence counselor",
    ),
    "abuse_neglect": (
        *_VIOLENCE_EXCLUDE, "substance abuse", "alcohol abuse", "drug abuse", "abuse of alcohol", "abuse of drugs",
        "abuse alcohol", "abuse drugs", "abused drugs", "abused alcohol", "abusing alcohol", "abusing drugs",
        "hit me up", "it hit me", "it hits me", "that hit me",
        "this hit me", "it really hit me", "it just hit me", "reality hit me", "beat me at", "beat me to",
        "hurt me emotionally", "neglected my health", "neglect my health", "neglecting my health",
        "neglected myself", "neglecting myself", "neglected my", "neglecting my", "neglect my",
        "afraid of heights", "scared of heights", "violence hotline", "violence shelter",
        "violence program", "violence services", "violence advocate", "violence counselor",
        "domestic violence hotline", "domestic violence shelter", "domestic violence program",
        "domestic violence services", "domestic violence advocate", "domestic violence counselor",
        "it hits you", "it hit you", "that hits you",
        "hits you that", "hit you that", "hit you up",
    ),
    "suicidal_ideation": (
        "want to die of embarrassment", "wanted to die of embarrassment", "die laughing",
        "suicide squad", "suicide prevention", "suicide hotline", "suicide line", "suicide awareness",
        "suicidal thoughts among", "if i die i die", "end things with", "ending things with",
        "end things between", "finish it tonight", "finish it later", "finish it by", "finish it off",
        "finish it first",
    ),
    "overdose": ("od on", "od'd on sugar", "overdose on sugar", "overdosed on sugar", "overdose on caffeine",
                 "overdosed on caffeine", "overdose of sun", "o d on"),
}

# Suicidal ideation detail for the "as discussed" line: what the client said of a plan, intent
# and means. Only read in talk that is about suicidal ideation (risk.py).
SI_PLAN_ABSENT = (
    "don't have a plan", "no plan", "haven't made a plan", "haven't planned", "never made a plan",
    "wouldn't act on", "would never act on", "never act on it", "no intention", "not going to do anything",
    "not going to act on", "wouldn't do it", "would never do it", "never do it", "not going to do it",
)
SI_PLAN_PRESENT = (
    "i have a plan", "i've made a plan", "i made a plan", "i've planned", "i planned", "how i would",
    "how i'd do it", "saved up pills", "saving my pills", "saving up pills", "bought a rope",
    "wrote a note", "written a note", "i have the pills", "i've got the pills", "picked a date",
    "know how i would", "know how i'd",
)
SI_MEANS = ("gun", "guns", "firearm", "rifle", "pistol", "rope", "pills", "razor", "blade", "bridge")
SI_INTENT = ("going to do it", "i'm going to do it", "gonna do it", "i will do it", "i intend to",
             "really going to", "this weekend", "tonight", "before the end of")
# A question about a plan or method: a "no" to it is "no plan", never a denial of ideation.
PLAN_QUESTION = ("a plan", "plan to", "how you would", "how would you", "thought about how", "method",
                 "means to", "access to", "have a gun", "any guns", "pills at home", "a way to")
