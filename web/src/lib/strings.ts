/** Every text the widget shows a visitor, per language: the one place to translate or add a language. */

export interface Texts {
  launcher: string;
  title: string;
  dialog: string;
  close: string;
  loadFailed: string;
  refused: (origin: string) => string;
  conversationWith: (name: string) => string;
  stage: (name: string) => string;
  status: Record<"idle" | "connecting" | "listening" | "thinking" | "speaking" | "ended", string>;
  duration: string;
  transcript: string;
  you: string;
  sources: string;
  interrupted: string;
  ask: string;
  question: string;
  placeholder: string;
  send: string;
  start: string;
  holdToTalk: string;
  handsFree: string;
  handsFreeLabel: string;
  interrupt: string;
  interruptLabel: string;
  end: string;
  endLabel: string;
  soundBlocked: string;
  startSound: string;
  /** The widget's "Leave your details" form (an avatar that takes contacts, on a server without an LLM). */
  contact: {
    open: string;
    title: string;
    intro: string;
    name: string;
    email: string;
    phone: string;
    note: string;
    send: string;
    cancel: string;
    sent: string;
    needsReach: string;
    badEmail: string;
    startFirst: string;
  };
}

const en: Texts = {
  launcher: "Talk to our avatar",
  title: "Ask our avatar",
  dialog: "Avatar conversation",
  close: "Close the avatar conversation",
  loadFailed: "The avatar could not be loaded. Check your connection and try again.",
  refused: (origin) =>
    `This website (${origin}) is not allowed to show this avatar yet. Its owner can add it to the avatar's allowed widget origins in the studio.`,
  conversationWith: (name) => `Conversation with ${name}`,
  stage: (name) => `${name}, the avatar`,
  status: {
    idle: "ready",
    connecting: "connecting",
    listening: "listening",
    thinking: "thinking",
    speaking: "speaking",
    ended: "ended",
  },
  duration: "Duration",
  transcript: "Transcript",
  you: "You",
  sources: "Sources",
  interrupted: "(interrupted)",
  ask: "Ask the avatar",
  question: "Your question",
  placeholder: "Type your question",
  send: "Send",
  start: "Start",
  holdToTalk: "Hold to talk",
  handsFree: "Hands-free",
  handsFreeLabel: "Hands-free listening",
  interrupt: "Interrupt",
  interruptLabel: "Interrupt the avatar",
  end: "End",
  endLabel: "End the conversation",
  soundBlocked: "The browser blocked the avatar's sound.",
  startSound: "Click to start sound",
  contact: {
    open: "Leave your details",
    title: "Leave your details",
    intro: "We will get back to you. An email address or a phone number is needed.",
    name: "Name",
    email: "Email",
    phone: "Phone",
    note: "What can we help with?",
    send: "Send my details",
    cancel: "Cancel",
    sent: "Thank you, your details were sent. We will get back to you.",
    needsReach: "Enter an email address or a phone number so we can reach you.",
    badEmail: "This email address does not look complete (name@example.com).",
    startFirst: "Press Start first: your details are sent with the conversation.",
  },
};

const fr: Texts = {
  launcher: "Parler à notre avatar",
  title: "Posez votre question",
  dialog: "Conversation avec l'avatar",
  close: "Fermer la conversation",
  loadFailed: "L'avatar n'a pas pu être chargé. Vérifiez votre connexion et réessayez.",
  refused: (origin) =>
    `Ce site (${origin}) n'est pas encore autorisé à afficher cet avatar. Son propriétaire peut l'ajouter aux origines autorisées de l'avatar dans le studio.`,
  conversationWith: (name) => `Conversation avec ${name}`,
  stage: (name) => `${name}, l'avatar`,
  status: {
    idle: "prêt",
    connecting: "connexion",
    listening: "à l'écoute",
    thinking: "réflexion",
    speaking: "parle",
    ended: "terminée",
  },
  duration: "Durée",
  transcript: "Transcription",
  you: "Vous",
  sources: "Sources",
  interrupted: "(interrompu)",
  ask: "Poser une question à l'avatar",
  question: "Votre question",
  placeholder: "Écrivez votre question",
  send: "Envoyer",
  start: "Commencer",
  holdToTalk: "Maintenir pour parler",
  handsFree: "Mains libres",
  handsFreeLabel: "Écoute mains libres",
  interrupt: "Interrompre",
  interruptLabel: "Interrompre l'avatar",
  end: "Terminer",
  endLabel: "Terminer la conversation",
  soundBlocked: "Le navigateur a bloqué le son de l'avatar.",
  startSound: "Cliquer pour activer le son",
  contact: {
    open: "Laisser vos coordonnées",
    title: "Laisser vos coordonnées",
    intro: "Nous vous recontacterons. Une adresse e-mail ou un numéro de téléphone est nécessaire.",
    name: "Nom",
    email: "E-mail",
    phone: "Téléphone",
    note: "Comment pouvons-nous vous aider ?",
    send: "Envoyer mes coordonnées",
    cancel: "Annuler",
    sent: "Merci, vos coordonnées ont été envoyées. Nous vous recontacterons.",
    needsReach: "Indiquez une adresse e-mail ou un numéro de téléphone pour que nous puissions vous joindre.",
    badEmail: "Cette adresse e-mail semble incomplète (nom@exemple.fr).",
    startFirst: "Appuyez d'abord sur Commencer : vos coordonnées sont envoyées avec la conversation.",
  },
};

export const LANGUAGES: Record<string, Texts> = { en, fr };

/** The texts for a language tag such as "fr-CA"; English when the language has none. */
export function textsFor(language: string | undefined): Texts {
  const primary = (language ?? "en").toLowerCase().split("-")[0] ?? "en";
  return LANGUAGES[primary] ?? en;
}
