# latchkey's messages in English: the reference catalog. Every other catalog in this
# directory has exactly these messages, with the same variables (a test checks it).
# Format: Project Fluent (https://projectfluent.org/fluent/guide/).

## Every page

language-switch = Language
page-title = { $title } · { $name }

## Sign-in

login-title = Sign in
login-passkey = Sign in with a passkey
login-or = or
login-username = Username or email
login-password = Password
login-submit = Sign in
login-forgot = Forgot your password?
login-code-label = Email me a sign-in code
login-code-submit = Send code
login-new-here = New here?
login-create-account = Create an account

## The mailed code

code-title = Check your email
code-sent = If the address can sign in here, a code is on its way. It works once, for a few minutes.
code-label = Code from the email
code-submit = Sign in
back-to-sign-in = Back to sign-in

## Creating an account

signup-title = Create an account
signup-off = Accounts are not made here.
signup-email = Your email address
signup-password = Password (optional)
signup-password-hint = At least { $min } characters, not a common one. Leave it empty to sign in with a code by email each time.
signup-submit = Create account
signup-how = We email you a code: the account is made when you type it in.
signup-weak = That password is too weak: use at least { $min } characters, not a common password and not your address (or leave it empty).

## The second step

mfa-title = Two-step sign-in
mfa-label = Code from your authenticator app
mfa-hint = No phone at hand? A recovery code works too.
mfa-submit = Continue
mfa-restart = Start again

## Forgotten passwords

forgot-title = Reset your password
forgot-email = Your account's email address
forgot-submit = Send a reset code
reset-title = Choose a new password
reset-sent = If an account has this address, a code is on its way to it.
reset-email = Email address
reset-code = Code from the email
reset-new-password = New password
reset-submit = Set the new password

## The account page

account-title = Your account
account-username = Username
account-email = Email
account-not-verified = (not verified)
account-two-step = Two-step sign-in
account-two-step-on = on (authenticator app)
account-two-step-off = off
account-sign-out = Sign out
account-sessions = Sessions
account-session-line = Signed in { $when } with { $method }
account-this-browser = this browser
account-end-session = Sign out the session of { $when }
account-authenticator = Authenticator app
account-totp-disable-label = A current code, to turn two-step sign-in off
account-totp-disable = Turn off
account-totp-pitch = Ask for a code from an authenticator app at every password sign-in.
account-totp-enroll = Set up an authenticator app
account-password = Password
account-set-password = Set a password
account-set-password-why = You sign in with a code by email. With a password you can sign in without one.
account-current-password = Current password
account-new-password = New password
account-password-only = Password
account-change-password = Change password
account-set-password-submit = Set password
account-app-prefix = { $app }:

method-passkey = passkey
method-password = password
method-code = code by email
method-unknown = unknown method
method-with-second = { $method } + authenticator app or recovery code

done-reset = Your password was reset and every session signed out. Sign in with the new one.
done-password = Your password was changed. Every other session was signed out.
done-totp-off = Two-step sign-in is off.
done-session = That session was signed out.
done-passkey = Your passkey was added.
done-passkey-renamed = The passkey was renamed.
done-passkey-removed = The passkey was removed.
done-signup = Your account is ready, with the password you chose.
done-signup-existing = This address had an account already: you are signed in to it. Its password was not changed.
done-signup-no-password = Your account is ready. Its password could not be set: set one below.

## Passkeys

passkeys-title = Passkeys
passkeys-pitch = Sign in with your fingerprint, face or screen lock instead of a password.
passkeys-added = added { $when }
passkeys-last-used = last used { $when }
passkeys-new-name = New name for the passkey { $name }
passkeys-rename = Rename
passkeys-remove-label = Remove the passkey { $name }
passkeys-remove = Remove
passkeys-name-label = Name of the new passkey (optional)
passkeys-name-example = e.g. work laptop
passkeys-add = Add a passkey
passkeys-needs-script = Adding a passkey needs JavaScript.
passkeys-refused = The server refused the passkey.
passkeys-fresh-sign-in = For your safety, adding a passkey needs a fresh sign-in: sign out, sign in again, then add it.

## Setting up an authenticator app

totp-title = Set up an authenticator app
totp-scan = Scan this with your authenticator app, or type the key into it.
totp-open = Open in an authenticator app
totp-key = Key
totp-qr = QR code of the key
totp-code = The code the app shows now
totp-submit = Turn on
totp-on-title = Two-step sign-in is on
totp-recovery = Keep these recovery codes somewhere safe. Each one works once, in place of a code from the app. They are not shown again.
totp-done = Done

## Apps (OpenID Connect)

consent-title = Allow { $app }?
consent-intro = { $app } wants to sign you in as { $who }. It will be able to:
consent-sub = Know who you are (your account id)
consent-email = See your email address
consent-profile = See your name and username
consent-groups = See which groups you are in
consent-offline = Stay signed in when you are away
consent-allow = Allow
consent-deny = Deny
logout-title = Sign out?
logout-ask = { $app } asks to sign you out of this server.
logout-an-app = An app
logout-submit = Sign out
back-title = Back to the app
back-taking = Taking you back to { $app }.
back-continue = Continue
oidc-unreadable = The app's sign-in request could not be read (a parameter given twice?).
oidc-invalid = The app's sign-in request cannot be answered: { $detail }
oidc-logout-unreadable = The sign-out request could not be read.
oidc-logout-unknown = The app's sign-out request names a sign-in this server did not make.
oidc-logout-contradicts = The sign-out request contradicts itself.
oidc-logout-unregistered = The app asked to send you to an address it did not register for sign-out.

## When something is wrong

trouble-title = Something is not right
trouble-go-sign-in = Go to sign-in
no-such-page = There is no such page.
form-unreadable = The form could not be read. Open the page again and send it from there.
form-other-site = This form was sent from another site, or its page is too old. Open the page again and send the form from there.
request-other-site = This request came from another site.
request-unreadable = The request could not be read.
error-wait = Too many attempts. Try again in { $minutes ->
    [one] { $minutes } minute
   *[other] { $minutes } minutes
}.
error-credentials = Wrong username or password.
error-disabled = This account is disabled.
error-blocked = This account is blocked.
error-unverified = This account is not activated yet.
error-mfa-code = That code is wrong, or was used already.
error-code = That code is wrong, expired or used already.
error-mfa-pending = The sign-in took too long, or the account changed meanwhile. Start again.
error-weak-password = That password is too weak: use a longer one that is not common and not your name.
error-current-password = The current password is wrong.
error-email = That email address cannot be used.
error-mail = Mail cannot be sent right now. Try again in a little while.
error-done-already = That was done already (in another window?).
error-busy = The server is busy. Try again in a moment.
error-signed-out = You are signed out. Sign in again.
error-passkey = That passkey did not work here (or the page is too old). Try again.
error-passkey-unknown = That passkey is not on this account (removed in another window?).
error-last-method = That is the only way left into this account: add another first (a password, a passkey).
error-internal = Something went wrong on our side.

## Mails

mail-code-subject = Your { $issuer } { $what }: { $code }
mail-code-intro = Your { $what } is:
mail-code-intro-html = Your { $what }:
mail-code-expires = It expires in { $minutes ->
    [one] { $minutes } minute
   *[other] { $minutes } minutes
} and works once.
mail-what-sign-in = sign-in code
mail-what-verify = email verification code
mail-what-reset = password reset code
mail-what-change = code to confirm your new email address
mail-unasked-sign-in = If you did not ask to sign in, ignore this message: nobody can sign in without the code.
mail-unasked-verify = If you did not ask to verify this address, ignore this message.
mail-unasked-reset = If you did not ask to reset your password, ignore this message: your password stays as it is.
mail-unasked-change = If you did not ask to move your account to this address, ignore this message.
mail-reset-none-subject = Password reset at { $issuer }
mail-reset-none = Someone asked to reset the password of an account at { $issuer } with this address, but there is no account for it.
mail-wrong-address = If it was you, use the address you signed up with. Otherwise, ignore this message.
mail-change-notice-subject = Your { $issuer } email address is being changed
mail-change-notice = Someone signed in to your { $issuer } account asked to move it to { $new }. It moves once a code mailed there is entered; until then this address stays the sign-in.
mail-change-notice-advice = If it was not you, change your password now and sign out your other sessions.
mail-no-account-subject = Sign-in attempt at { $issuer }
mail-no-account = Someone asked to sign in to { $issuer } with this address, but there is no account for it.

## Apps behind the proxy (access rules)

stepup-title = One more step
stepup-why = This app asks for a second factor. Give a code from your authenticator app.
stepup-passkey = This app asks for a second factor: sign in with one of your passkeys.
stepup-none = This app asks for a second factor, and your account has none. Set up an authenticator app on your account page, then come back.
stepup-setup = Go to your account
refused-title = Not for this account
refused-text = { $who } may not use { $app }.
refused-sign-out = Sign out, to sign in as someone else
login-with = Sign in with { $name }
method-upstream = another provider
upstream-title = Other providers
upstream-pitch = Sign in with an account you already have elsewhere.
upstream-linked-on = linked { $when }
upstream-unlink = Unlink
upstream-unlink-label = Unlink { $name }
upstream-link = Link { $name }
done-upstream-linked = The account is linked: you can sign in with it.
done-upstream-unlinked = The account was unlinked.
upstream-failed = Signing in with { $name } did not work. Try again, or sign in another way.
upstream-link-from-account = An account here has this email address. Sign in the usual way, then link { $name } from your account page.
upstream-no-account = No account here belongs to this { $name } account.
upstream-linked-elsewhere = This { $name } account is linked to another account here.
account-recent = Recent sign-ins
account-from = from { $ip }
door-portal = on these pages
door-oidc = through an app (OpenID Connect)
door-passkey = with a passkey
door-upstream = with another provider
door-admin = by an administrator
door-app = through an app
door-unknown = unknown way
admin-nav = Administration
admin-users = Users
admin-groups = Groups
admin-audit = Audit log
admin-back = Your account
admin-not-allowed = These pages are for administrators.
admin-not-found = No such user or group.
admin-failed = That did not work; the server's log says why.
admin-bad-group = A group name is 1 to 64 of a-z, 0-9, _ and -.
admin-group-exists = A group of that name exists.
admin-search = Email, username or id
admin-search-submit = Search
admin-new-user = New user
admin-email = Email
admin-username = Username
admin-username-optional = Username (optional)
admin-state = State
admin-none = None.
admin-next = Next page
admin-new-user-hint = The new user gets a code by mail to set a password.
admin-create = Create
admin-second-factor = Second factor
admin-linked = Linked providers
admin-enable = Enable
admin-disable = Disable
admin-block = Block
admin-unblock = Unblock
admin-reset-mfa = Reset the second factor
admin-sign-out = Sign out everywhere
admin-delete = Delete
admin-cancel = Cancel
admin-delete-confirm = Delete { $who } for good? Every session ends; this cannot be undone.
admin-session-since = since
admin-session-used = last used
admin-recent-events = Recent events
admin-all-events = All events of this user
admin-group = Group
admin-members = Members
admin-description = Description
admin-new-group = New group
admin-group-title = Group { $name }
admin-remove = Remove
admin-remove-member = Remove { $who }
admin-add-member = Add a member
admin-member-key = Email, username or id
admin-add = Add
admin-delete-group = Delete this group
admin-delete-group-confirm = Yes, delete it and every membership
admin-filter-user = User
admin-filter-event = Event
admin-filter-since = Since (RFC 3339)
admin-when = When
admin-event = Event
admin-who = User
admin-actor = By
admin-door = Door
admin-address = Address
admin-done-created = The user was created and mailed a code to set a password.
admin-done-changed = Done.
admin-done-deleted = The user was deleted.
admin-done-group-created = The group was created.
admin-done-group-deleted = The group was deleted.
admin-done-member-added = The member was added.
admin-done-member-removed = The member was removed.
