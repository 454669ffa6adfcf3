"""Cue phrases the composer looks for in redacted transcripts.

Transcripts are lowercase, unpunctuated speech-recogniser output, so cues are short
spoken phrases matched on word boundaries. Contractions are also matched in their long
form ("i've" also finds "i have"; see matching.variants). Every label the note prints is
a key of one of these tables, and an item only gets that label when one of its cues was
found in the item's evidence: a cue list is the proof behind a label.

Keep cues specific. A missed cue leaves a section emptier; a loose cue puts a wrong claim
in a clinical record.
"""
from __future__ import annotations

# Client reports: first-person accounts of feelings, symptoms and events.
# A chunk also needs more first-person than second-person words to count (composer).
REPORT = (
    "i feel", "i felt", "i'm feeling", "i was feeling", "i've been", "i've had", "i had",
    "i can't", "i couldn't", "i keep", "i kept", "i get so", "i got so", "i get really",
    "i'm so", "i'm really", "i'm just", "i'm always", "i'm scared", "i'm afraid", "i'm tired",
    "i'm worried", "i worry", "i was so", "i was really", "i don't know how", "i just",
    "i haven't been", "i started", "i stopped", "it's been", "it was hard", "it's hard",
    "my mind", "my chest", "my heart", "i thought i was", "i still feel", "i was hurt",
    "i felt hurt", "i feel hurt",
)

# Themes: what the session was about. Label -> cues. Printed as "Theme: <label>".
THEMES: dict[str, tuple[str, ...]] = {
    "anxiety": ("anxious", "anxiety", "worried", "worrying", "worry", "panic", "panicky",
                "nervous", "on edge", "racing thoughts", "heart racing", "heart was racing",
                "scared", "afraid", "dread"),
    "low mood": ("depressed", "depression", "sad", "sadness", "hopeless", "empty", "numb",
                 "crying", "cried", "feeling down", "been down", "no motivation", "unmotivated",
                 "no energy", "pointless", "miserable"),
    "sleep": ("sleep", "sleeping", "slept", "insomnia", "nightmares", "nightmare",
              "awake at night", "lie awake", "lying awake", "can't fall asleep", "fall asleep",
              "exhausted", "waking up", "woke up at", "wake up at"),
    "anger and irritability": ("angry", "anger", "irritable", "furious", "snapped", "yelled",
                               "yelling", "frustrated", "frustrating", "lose my temper",
                               "lost my temper"),
    "relationships and family": ("my partner", "my wife", "my husband", "my boyfriend",
                                 "my girlfriend", "my mom", "my mother", "my dad", "my father",
                                 "my parents", "my kids", "my son", "my daughter", "my sister",
                                 "my brother", "my family", "marriage", "divorce", "breakup",
                                 "broke up", "my friends", "lonely", "loneliness"),
    "work and school": ("at work", "my job", "my boss", "my manager", "coworker", "coworkers",
                        "colleague", "colleagues", "deadline", "deadlines", "the office",
                        "at school", "my classes", "exams", "exam", "got fired", "laid off",
                        "performance review", "meeting at work", "my work", "i work", "leave work",
                        "your boss", "your job", "your manager"),
    "grief and loss": ("passed away", "died", "funeral", "grief", "grieving", "miss her",
                       "miss him", "since she died", "since he died", "lost my"),
    "substance use": ("drinking", "alcohol", "drunk", "beers", "wine", "weed", "marijuana",
                      "smoking", "cigarettes", "drugs", "using again", "relapse", "relapsed",
                      "sober", "hungover"),
    "trauma": ("trauma", "traumatic", "flashback", "flashbacks", "triggered", "the accident"),
    "self-esteem": ("worthless", "a failure", "not good enough", "hate myself", "so stupid",
                    "incompetent", "useless", "a burden"),
    "physical health": ("headache", "headaches", "pain", "my doctor", "medication",
                        "my meds", "appetite", "not eating", "stomach", "asthma", "diabetes",
                        "blood sugar", "blood pressure", "cholesterol", "my weight", "lose weight",
                        "losing weight", "heart disease", "insulin"),
}

# Interventions, by taxonomy. Printed as "Intervention: <label>".
INTERVENTIONS: dict[str, tuple[str, ...]] = {
    "cognitive restructuring": (
        "what evidence", "evidence for", "evidence against", "evidence that",
        "another way to look", "another way of looking", "another way to see",
        "alternative explanation", "thinking trap", "thinking traps", "thought record",
        "automatic thought", "automatic thoughts", "challenge that thought",
        "what would you tell a friend", "what would you say to a friend", "catastrophizing",
        "all or nothing", "black and white thinking", "reframe", "more balanced thought",
        "how likely is it"),
    "behavioural activation": (
        "activity schedule", "schedule some", "pleasant activities", "pleasant activity",
        "something you enjoy", "things you used to enjoy", "things you enjoy",
        "plan an activity", "get out of the house", "small activity", "mastery and pleasure"),
    "psychoeducation": (
        "it's very common", "it's really common", "that's very common", "that's really common",
        "it's common", "that's common", "is very normal", "that's normal", "it's normal to",
        "fight or flight", "how anxiety works", "the way anxiety works", "anxiety works",
        "your nervous system", "your body's", "research shows", "this is called",
        "we call this", "what happens in your brain", "the cycle of", "part of depression",
        "symptom of"),
    "mindfulness and grounding": (
        "notice your breath", "notice your breathing", "take a deep breath", "deep breath",
        "deep breaths", "breathe in", "breathe out", "breathing exercise", "grounding",
        "ground yourself", "five things you can see", "things you can see", "body scan",
        "feet on the floor", "be present", "mindfulness", "mindful", "just notice",
        "make room for", "let it be there", "without fighting it", "without judging"),
    "exposure": (
        "exposure exercise", "exposure practice", "do an exposure", "fear ladder", "fear hierarchy",
        "stay with the anxiety",
        "stay with the discomfort", "stay in the situation", "instead of avoiding",
        "until the anxiety", "let the anxiety", "face the situation"),
    "motivational interviewing": (
        "on a scale of one to ten", "on a scale from", "on a scale of zero to ten",
        "how important is it", "how important is that", "how confident are you",
        "pros and cons", "ready to make", "decisional balance"),
    "reflective listening and validation": (
        "it sounds like", "sounds like you", "what i'm hearing", "i'm hearing that",
        "i hear you", "so you're saying", "makes sense that you", "that must be",
        "that sounds really hard", "that sounds hard", "that sounds really difficult",
        "that sounds difficult", "it's understandable", "of course you"),
    "problem solving": (
        "problem solving", "brainstorm", "what are your options", "what options",
        "what could you do", "break it down", "break it into", "first step", "smaller steps",
        "what's one thing you could", "one thing you could do"),
    "safety planning": (
        "safety plan", "crisis line", "crisis number", "nine eight eight",
        "call nine one one", "emergency room", "who could you call", "who can you call", "who you can call", "who you could call",
        "reasons for living", "warning signs", "keep yourself safe", "stay safe"),
    # Told by the turn's form (mi.py), not by phrases: no cues here; claimed only when the
    # utterance classifier agrees (composer._STRUCTURAL).
    "open questions": (),
    "reflections": (),
    "dbt skills": (
        "distress tolerance", "tipp skill", "the tipp", "opposite action", "wise mind",
        "radical acceptance", "check the facts", "dear man", "emotion regulation skill",
        "self-soothe", "self soothe", "chain analysis", "diary card", "interpersonal effectiveness"),
    # Motivational interviewing's skills beyond the two told by form (open questions and
    # reflections, mi.py): cue phrases, each claimed only when the classifier agrees.
    "affirmations": (
        "that takes courage", "that took courage", "you should be proud", "good for you",
        "well done", "that's a big step", "that's a real strength", "you've worked hard",
        "you've worked really hard", "you've done really well", "you've made real progress",
        "i'm impressed", "it's great that you", "that's great that you", "you really care about",
        "you clearly care about", "shows a lot of strength", "that shows real"),
    "summaries": (
        "let me summarize", "let me summarise", "to summarize", "to summarise", "to sum up",
        "let me see if i've got", "let me make sure i understand", "let me see if i understand",
        "so far you've told me", "if i put it all together", "in summary", "let me recap",
        "let me pull together", "to recap"),
    "eliciting change talk": (
        "why would you want to", "how would your life be different", "what worries you about",
        "what concerns you about", "what are some reasons", "what makes you want to",
        "what would it take", "what would be different", "what would you like to see",
        "what might be the benefits", "what are the good things about", "what are the not so good",
        "what are the less good things", "what do you want to do about", "what would you like to do about",
        "if you did decide", "how would things be better", "where do you want to go from here",
        "what's the worst that could happen if", "what would make it worth"),
    "information with permission": (
        "would it be okay if i", "would it be ok if i", "is it okay if i", "is it ok if i",
        "can i share", "could i share", "may i share", "would you like to hear", "do you mind if i",
        "would you like some information", "would it help if i told you", "would you be interested in hearing",
        "can i tell you what", "would you mind if i"),
    "homework assignment": (
        "for homework", "your homework", "homework", "between now and next",
        "i'd like you to try", "try this week", "this week i'd like you", "worksheet",
        "what i'd like you to do", "i'd like you to experiment", "experiment with",
        "keep a log", "write them down", "write it down", "write down", "practise it",
        "practice it", "practise this", "practice this", "keep practising", "keep practicing",
        "track your"),
}

# Client responses to the work of the session (RESPONSE_EXCLUDE: phrases that only look like one).
RESPONSE_EXCLUDE = ("if that makes sense", "if it makes sense", "does that make sense", "i tried to explain",
                    "i actually don't", "i actually didn't")
RESPONSE = (
    "that makes sense", "makes sense to me", "i could try", "i can try", "i'll try",
    "i noticed", "i didn't think of it that way", "never thought of it", "never thought about it",
    "that helps", "that helped", "it helped", "that was helpful", "that's helpful",
    "i feel better", "i feel calmer", "i feel a little better", "i like that", "that's true",
    "you're right", "i'm willing", "i think i can", "i tried", "it worked", "it didn't work",
    "i did the", "i actually",
)

# Goals the client names.
GOALS = (
    "my goal", "goal is", "i want to", "i'd like to", "i would like to", "i hope to",
    "i wish i could", "i want to be able", "work on my", "work on being", "working on my", "get better at",
    "i need to", "want to stop", "want to start", "want to get back",
)

# Plans: what happens after the session.
PLAN = (
    "next week", "homework", "before we meet", "next session", "next time", "practice",
    "practise", "follow up", "over the next", "during the week", "this coming week",
    "i'll try", "i'm going to try", "we'll", "we will", "let's plan", "the plan is",
    "referral", "refer you", "see you on", "safety plan", "see you next", "see you in",
    "meet again", "let's meet", "encourage you to", "i could try", "i can try", "i'll call",
    "i'll go", "i'll do", "i'll make", "i'll write", "i'll text", "i'll save", "i'll ask",
    "i'll bring", "i'll practise", "i'll practice", "i'll keep",
)


# Risk cues live in risk_cues.py, with the rules that read them (risk.py).


# Change and sustain talk (MI's DARN-CAT: desire, ability, reasons, need, commitment, steps):
# a client turn is named change or sustain talk only when one of these is in it AND the
# utterance classifier reads it so (composer; precision on held-out AnnoMI: bench/notes.py).
CHANGE_TALK = (r"\b(i want to|i wanna|i'd like to|i would like to|i need to|i have to|i should|i could|i can|"
               r"i'm going to|i am going to|i'm gonna|i will|i'll|i've been trying|i've cut|i've stopped|i quit|"
               r"i stopped|i've started|i started|i'm ready|i'm willing|i've decided|it would be (?:good|better|nice)|"
               r"i'd be (?:better|healthier|happier)|i'm worried|i worry|i'm concerned|i'm scared|it's affecting|"
               r"it's hurting|it's causing|i don't want to (?:end up|be|lose|keep|get)|i hate|cut down|cut back|"
               r"quit|stop|less|reduce|healthier|better for)\b")
SUSTAIN_TALK = (r"\b(i don't want to|i don't think|i can't|i couldn't|i won't|i'm not going to|not ready|no problem|"
                r"not a problem|not that bad|not a big deal|no big deal|it's fine|i'm fine|"
                r"i like (?:it|to|drinking|smoking|the)|i enjoy|it helps me|it relaxes|relax|everybody|everyone does|"
                r"all my friends|it's hard to|too hard|it's not (?:that|like|really)|i don't see|"
                r"i don't have a problem|i don't need|why should|i'm not (?:an|a) (?:alcoholic|addict)|only when|"
                r"just a (?:few|couple))\b")
