# latchkey auf Deutsch. Dieselben Nachrichten wie locales/en.ftl, mit denselben
# Variablen (ein Test prüft es). Format: Project Fluent.

## Jede Seite

language-switch = Sprache
page-title = { $title } · { $name }

## Anmelden

login-title = Anmelden
login-passkey = Mit einem Passkey anmelden
login-or = oder
login-username = Benutzername oder E-Mail
login-password = Passwort
login-submit = Anmelden
login-forgot = Passwort vergessen?
login-code-label = Anmeldecode per E-Mail schicken
login-code-submit = Code senden
login-new-here = Neu hier?
login-create-account = Konto erstellen

## Der Code per E-Mail

code-title = Sehen Sie in Ihr Postfach
code-sent = Wenn sich diese Adresse hier anmelden kann, ist ein Code unterwegs. Er gilt einmal, für wenige Minuten.
code-label = Code aus der E-Mail
code-submit = Anmelden
back-to-sign-in = Zurück zur Anmeldung

## Konto erstellen

signup-title = Konto erstellen
signup-off = Hier werden keine Konten angelegt.
signup-email = Ihre E-Mail-Adresse
signup-password = Passwort (freiwillig)
signup-password-hint = Mindestens { $min } Zeichen, kein gängiges Passwort. Leer lassen, um sich jedes Mal mit einem Code per E-Mail anzumelden.
signup-submit = Konto erstellen
signup-how = Wir schicken Ihnen einen Code: Das Konto entsteht, sobald Sie ihn eingeben.
signup-weak = Dieses Passwort ist zu schwach: Nehmen Sie mindestens { $min } Zeichen, kein gängiges Passwort und nicht Ihre Adresse (oder lassen Sie es leer).

## Der zweite Schritt

mfa-title = Anmeldung in zwei Schritten
mfa-label = Code aus Ihrer Authenticator-App
mfa-hint = Kein Telefon zur Hand? Ein Wiederherstellungscode geht auch.
mfa-submit = Weiter
mfa-restart = Neu beginnen

## Passwort vergessen

forgot-title = Passwort zurücksetzen
forgot-email = Die E-Mail-Adresse Ihres Kontos
forgot-submit = Code zum Zurücksetzen senden
reset-title = Neues Passwort wählen
reset-sent = Wenn ein Konto diese Adresse hat, ist ein Code dorthin unterwegs.
reset-email = E-Mail-Adresse
reset-code = Code aus der E-Mail
reset-new-password = Neues Passwort
reset-submit = Neues Passwort setzen

## Die Kontoseite

account-title = Ihr Konto
account-username = Benutzername
account-email = E-Mail
account-not-verified = (nicht bestätigt)
account-two-step = Anmeldung in zwei Schritten
account-two-step-on = an (Authenticator-App)
account-two-step-off = aus
account-sign-out = Abmelden
account-sessions = Sitzungen
account-session-line = Angemeldet am { $when } mit { $method }
account-this-browser = dieser Browser
account-end-session = Die Sitzung vom { $when } abmelden
account-authenticator = Authenticator-App
account-totp-disable-label = Ein aktueller Code, um die Anmeldung in zwei Schritten auszuschalten
account-totp-disable = Ausschalten
account-totp-pitch = Bei jeder Anmeldung mit Passwort einen Code aus einer Authenticator-App verlangen.
account-totp-enroll = Authenticator-App einrichten
account-password = Passwort
account-set-password = Passwort festlegen
account-set-password-why = Sie melden sich mit einem Code per E-Mail an. Mit einem Passwort geht es auch ohne.
account-current-password = Aktuelles Passwort
account-new-password = Neues Passwort
account-password-only = Passwort
account-change-password = Passwort ändern
account-set-password-submit = Passwort festlegen
account-app-prefix = { $app }:

method-passkey = Passkey
method-password = Passwort
method-code = Code per E-Mail
method-unknown = unbekannter Methode
method-with-second = { $method } + Authenticator-App oder Wiederherstellungscode

done-reset = Ihr Passwort wurde zurückgesetzt und jede Sitzung abgemeldet. Melden Sie sich mit dem neuen an.
done-password = Ihr Passwort wurde geändert. Alle anderen Sitzungen wurden abgemeldet.
done-totp-off = Die Anmeldung in zwei Schritten ist aus.
done-session = Diese Sitzung wurde abgemeldet.
done-passkey = Ihr Passkey wurde hinzugefügt.
done-passkey-renamed = Der Passkey wurde umbenannt.
done-passkey-removed = Der Passkey wurde entfernt.
done-signup = Ihr Konto ist bereit, mit dem Passwort, das Sie gewählt haben.
done-signup-existing = Diese Adresse hatte schon ein Konto: Sie sind darin angemeldet. Sein Passwort wurde nicht geändert.
done-signup-no-password = Ihr Konto ist bereit. Sein Passwort ließ sich nicht setzen: Legen Sie unten eines fest.

## Passkeys

passkeys-title = Passkeys
passkeys-pitch = Melden Sie sich mit Fingerabdruck, Gesicht oder Bildschirmsperre an statt mit einem Passwort.
passkeys-added = hinzugefügt am { $when }
passkeys-last-used = zuletzt benutzt am { $when }
passkeys-new-name = Neuer Name für den Passkey { $name }
passkeys-rename = Umbenennen
passkeys-remove-label = Den Passkey { $name } entfernen
passkeys-remove = Entfernen
passkeys-name-label = Name des neuen Passkeys (freiwillig)
passkeys-name-example = z. B. Arbeitslaptop
passkeys-add = Passkey hinzufügen
passkeys-needs-script = Einen Passkey hinzuzufügen braucht JavaScript.
passkeys-refused = Der Server hat den Passkey abgelehnt.
passkeys-fresh-sign-in = Zu Ihrer Sicherheit braucht ein neuer Passkey eine frische Anmeldung: Abmelden, wieder anmelden, dann hinzufügen.

## Eine Authenticator-App einrichten

totp-title = Authenticator-App einrichten
totp-scan = Scannen Sie dies mit Ihrer Authenticator-App, oder tippen Sie den Schlüssel dort ein.
totp-open = In einer Authenticator-App öffnen
totp-key = Schlüssel
totp-qr = QR-Code des Schlüssels
totp-code = Der Code, den die App jetzt zeigt
totp-submit = Einschalten
totp-on-title = Die Anmeldung in zwei Schritten ist an
totp-recovery = Bewahren Sie diese Wiederherstellungscodes sicher auf. Jeder gilt einmal, anstelle eines Codes aus der App. Sie werden nicht noch einmal gezeigt.
totp-done = Fertig

## Apps (OpenID Connect)

consent-title = { $app } erlauben?
consent-intro = { $app } möchte Sie als { $who } anmelden. Die App darf dann:
consent-sub = wissen, wer Sie sind (die Kennung Ihres Kontos)
consent-email = Ihre E-Mail-Adresse sehen
consent-profile = Ihren Namen und Benutzernamen sehen
consent-groups = sehen, in welchen Gruppen Sie sind
consent-offline = angemeldet bleiben, während Sie weg sind
consent-allow = Erlauben
consent-deny = Ablehnen
logout-title = Abmelden?
logout-ask = { $app } möchte Sie von diesem Server abmelden.
logout-an-app = Eine App
logout-submit = Abmelden
back-title = Zurück zur App
back-taking = Sie kommen zurück zu { $app }.
back-continue = Weiter
oidc-unreadable = Die Anmeldeanfrage der App ist nicht lesbar (ein Parameter doppelt?).
oidc-invalid = Die Anmeldeanfrage der App lässt sich nicht beantworten: { $detail }
oidc-logout-unreadable = Die Abmeldeanfrage ist nicht lesbar.
oidc-logout-unknown = Die Abmeldeanfrage der App nennt eine Anmeldung, die nicht von diesem Server stammt.
oidc-logout-contradicts = Die Abmeldeanfrage widerspricht sich selbst.
oidc-logout-unregistered = Die App will Sie zu einer Adresse schicken, die sie für die Abmeldung nicht angemeldet hat.

## Wenn etwas nicht stimmt

trouble-title = Etwas stimmt nicht
trouble-go-sign-in = Zur Anmeldung
no-such-page = Diese Seite gibt es nicht.
form-unreadable = Das Formular ist nicht lesbar. Öffnen Sie die Seite erneut und senden Sie es von dort.
form-other-site = Dieses Formular kam von einer anderen Website, oder seine Seite ist zu alt. Öffnen Sie die Seite erneut und senden Sie das Formular von dort.
request-other-site = Diese Anfrage kam von einer anderen Website.
request-unreadable = Die Anfrage ist nicht lesbar.
error-wait = Zu viele Versuche. Versuchen Sie es in { $minutes ->
    [one] { $minutes } Minute
   *[other] { $minutes } Minuten
} wieder.
error-credentials = Benutzername oder Passwort falsch.
error-disabled = Dieses Konto ist deaktiviert.
error-blocked = Dieses Konto ist gesperrt.
error-unverified = Dieses Konto ist noch nicht aktiviert.
error-mfa-code = Dieser Code ist falsch oder wurde schon benutzt.
error-code = Dieser Code ist falsch, abgelaufen oder schon benutzt.
error-mfa-pending = Die Anmeldung hat zu lange gedauert, oder das Konto hat sich inzwischen geändert. Beginnen Sie neu.
error-weak-password = Dieses Passwort ist zu schwach: Nehmen Sie ein längeres, das nicht gängig ist und nicht Ihr Name.
error-current-password = Das aktuelle Passwort ist falsch.
error-email = Diese E-Mail-Adresse lässt sich nicht verwenden.
error-mail = Gerade lassen sich keine E-Mails senden. Versuchen Sie es gleich noch einmal.
error-done-already = Das ist schon geschehen (in einem anderen Fenster?).
error-busy = Der Server ist ausgelastet. Versuchen Sie es gleich noch einmal.
error-signed-out = Sie sind abgemeldet. Melden Sie sich wieder an.
error-passkey = Dieser Passkey hat hier nicht funktioniert (oder die Seite ist zu alt). Versuchen Sie es noch einmal.
error-passkey-unknown = Dieser Passkey gehört nicht zu diesem Konto (in einem anderen Fenster entfernt?).
error-last-method = Das ist der einzige verbleibende Weg in dieses Konto: Richten Sie zuerst einen anderen ein (ein Passwort, einen Passkey).
error-internal = Bei uns ist etwas schiefgegangen.

## E-Mails

mail-code-subject = Ihr { $what } für { $issuer }: { $code }
mail-code-intro = Ihr { $what } lautet:
mail-code-intro-html = Ihr { $what }:
mail-code-expires = Er läuft in { $minutes ->
    [one] { $minutes } Minute
   *[other] { $minutes } Minuten
} ab und gilt einmal.
mail-what-sign-in = Anmeldecode
mail-what-verify = Code zur Bestätigung Ihrer E-Mail-Adresse
mail-what-reset = Code zum Zurücksetzen des Passworts
mail-what-change = Code zur Bestätigung Ihrer neuen E-Mail-Adresse
mail-unasked-sign-in = Wenn Sie sich nicht anmelden wollten, ignorieren Sie diese Nachricht: Ohne den Code kann sich niemand anmelden.
mail-unasked-verify = Wenn Sie diese Adresse nicht bestätigen wollten, ignorieren Sie diese Nachricht.
mail-unasked-reset = Wenn Sie Ihr Passwort nicht zurücksetzen wollten, ignorieren Sie diese Nachricht: Ihr Passwort bleibt, wie es ist.
mail-unasked-change = Wenn Sie Ihr Konto nicht auf diese Adresse umziehen wollten, ignorieren Sie diese Nachricht.
mail-reset-none-subject = Passwort zurücksetzen bei { $issuer }
mail-reset-none = Jemand wollte das Passwort eines Kontos bei { $issuer } mit dieser Adresse zurücksetzen, aber zu ihr gibt es kein Konto.
mail-wrong-address = Wenn Sie es waren, nehmen Sie die Adresse, mit der Sie sich registriert haben. Sonst ignorieren Sie diese Nachricht.
mail-change-notice-subject = Ihre E-Mail-Adresse bei { $issuer } wird geändert
mail-change-notice = Jemand, der in Ihrem Konto bei { $issuer } angemeldet ist, möchte es auf { $new } umziehen. Es zieht um, sobald ein dorthin geschickter Code eingegeben ist; bis dahin bleibt diese Adresse die Anmeldung.
mail-change-notice-advice = Wenn Sie es nicht waren, ändern Sie jetzt Ihr Passwort und melden Sie Ihre anderen Sitzungen ab.
mail-no-account-subject = Anmeldeversuch bei { $issuer }
mail-no-account = Jemand wollte sich mit dieser Adresse bei { $issuer } anmelden, aber zu ihr gibt es kein Konto.

## Apps hinter dem Proxy (Zugriffsregeln)

stepup-title = Noch ein Schritt
stepup-why = Diese App verlangt einen zweiten Faktor. Geben Sie einen Code aus Ihrer Authenticator-App ein.
stepup-passkey = Diese App verlangt einen zweiten Faktor: Melden Sie sich mit einem Ihrer Passkeys an.
stepup-none = Diese App verlangt einen zweiten Faktor, und Ihr Konto hat keinen. Richten Sie auf Ihrer Kontoseite eine Authenticator-App ein und kommen Sie dann zurück.
stepup-setup = Zu Ihrem Konto
refused-title = Nicht für dieses Konto
refused-text = { $who } darf { $app } nicht benutzen.
refused-sign-out = Abmelden, um sich als jemand anderes anzumelden
login-with = Mit { $name } anmelden
method-upstream = anderer Anbieter
upstream-title = Andere Anbieter
upstream-pitch = Melden Sie sich mit einem Konto an, das Sie anderswo schon haben.
upstream-linked-on = verknüpft am { $when }
upstream-unlink = Trennen
upstream-unlink-label = { $name } trennen
upstream-link = { $name } verknüpfen
done-upstream-linked = Das Konto ist verknüpft: Sie können sich damit anmelden.
done-upstream-unlinked = Die Verknüpfung wurde getrennt.
upstream-failed = Die Anmeldung mit { $name } hat nicht geklappt. Versuchen Sie es erneut oder melden Sie sich anders an.
upstream-link-from-account = Ein Konto hier hat diese E-Mail-Adresse. Melden Sie sich wie gewohnt an und verknüpfen Sie { $name } dann auf Ihrer Kontoseite.
upstream-no-account = Zu diesem Konto bei { $name } gehört hier kein Konto.
upstream-linked-elsewhere = Dieses Konto bei { $name } ist mit einem anderen Konto hier verknüpft.
account-recent = Letzte Anmeldungen
account-from = von { $ip }
door-portal = auf diesen Seiten
door-oidc = über eine App (OpenID Connect)
door-passkey = mit einem Passkey
door-upstream = mit einem anderen Anbieter
door-admin = durch eine Administratorin oder einen Administrator
door-app = über eine App
door-unknown = unbekannter Weg
admin-nav = Verwaltung
admin-users = Konten
admin-groups = Gruppen
admin-audit = Protokoll
admin-back = Ihr Konto
admin-not-allowed = Diese Seiten sind für Administratoren.
admin-not-found = Kein solches Konto und keine solche Gruppe.
admin-failed = Das hat nicht geklappt; das Protokoll des Servers nennt den Grund.
admin-bad-group = Ein Gruppenname besteht aus 1 bis 64 Zeichen a-z, 0-9, _ und -.
admin-group-exists = Eine Gruppe dieses Namens gibt es schon.
admin-search = E-Mail, Benutzername oder ID
admin-search-submit = Suchen
admin-new-user = Neues Konto
admin-email = E-Mail
admin-username = Benutzername
admin-username-optional = Benutzername (optional)
admin-state = Zustand
admin-none = Keine.
admin-next = Nächste Seite
admin-new-user-hint = Das neue Konto erhält per E-Mail einen Code, um ein Passwort festzulegen.
admin-create = Anlegen
admin-second-factor = Zweiter Faktor
admin-linked = Verknüpfte Anbieter
admin-enable = Aktivieren
admin-disable = Deaktivieren
admin-block = Sperren
admin-unblock = Entsperren
admin-reset-mfa = Zweiten Faktor zurücksetzen
admin-sign-out = Überall abmelden
admin-delete = Löschen
admin-cancel = Abbrechen
admin-delete-confirm = { $who } endgültig löschen? Alle Sitzungen enden; das lässt sich nicht rückgängig machen.
admin-session-since = seit
admin-session-used = zuletzt genutzt
admin-recent-events = Letzte Ereignisse
admin-all-events = Alle Ereignisse dieses Kontos
admin-group = Gruppe
admin-members = Mitglieder
admin-description = Beschreibung
admin-new-group = Neue Gruppe
admin-group-title = Gruppe { $name }
admin-remove = Entfernen
admin-remove-member = { $who } entfernen
admin-add-member = Mitglied hinzufügen
admin-member-key = E-Mail, Benutzername oder ID
admin-add = Hinzufügen
admin-delete-group = Diese Gruppe löschen
admin-delete-group-confirm = Ja, mit allen Mitgliedschaften löschen
admin-filter-user = Konto
admin-filter-event = Ereignis
admin-filter-since = Seit (RFC 3339)
admin-when = Wann
admin-event = Ereignis
admin-who = Konto
admin-actor = Durch
admin-door = Zugang
admin-address = Adresse
admin-done-created = Das Konto wurde angelegt; ein Code zum Festlegen des Passworts ist unterwegs.
admin-done-changed = Erledigt.
admin-done-deleted = Das Konto wurde gelöscht.
admin-done-group-created = Die Gruppe wurde angelegt.
admin-done-group-deleted = Die Gruppe wurde gelöscht.
admin-done-member-added = Das Mitglied wurde hinzugefügt.
admin-done-member-removed = Das Mitglied wurde entfernt.
