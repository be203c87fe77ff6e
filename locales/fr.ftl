# latchkey en français. Les mêmes messages que locales/en.ftl, avec les mêmes
# variables (un test le vérifie). Format : Project Fluent.

## Chaque page

language-switch = Langue
page-title = { $title } · { $name }

## Connexion

login-title = Se connecter
login-passkey = Se connecter avec une clé d’accès
login-or = ou
login-username = Nom d’utilisateur ou e-mail
login-password = Mot de passe
login-submit = Se connecter
login-forgot = Mot de passe oublié ?
login-code-label = Recevoir un code de connexion par e-mail
login-code-submit = Envoyer le code
login-new-here = Nouveau ici ?
login-create-account = Créer un compte

## Le code envoyé par e-mail

code-title = Consultez vos e-mails
code-sent = Si cette adresse peut se connecter ici, un code est en route. Il sert une fois, pendant quelques minutes.
code-label = Code reçu par e-mail
code-submit = Se connecter
back-to-sign-in = Retour à la connexion

## Créer un compte

signup-title = Créer un compte
signup-off = Les comptes ne se créent pas ici.
signup-email = Votre adresse e-mail
signup-password = Mot de passe (facultatif)
signup-password-hint = Au moins { $min } caractères, pas un mot de passe courant. Laissez vide pour vous connecter chaque fois avec un code par e-mail.
signup-submit = Créer le compte
signup-how = Nous vous envoyons un code : le compte est créé quand vous le saisissez.
signup-weak = Ce mot de passe est trop faible : prenez au moins { $min } caractères, pas un mot de passe courant ni votre adresse (ou laissez vide).

## La seconde étape

mfa-title = Connexion en deux étapes
mfa-label = Code de votre application d’authentification
mfa-hint = Pas de téléphone sous la main ? Un code de secours fonctionne aussi.
mfa-submit = Continuer
mfa-restart = Recommencer

## Mot de passe oublié

forgot-title = Réinitialiser votre mot de passe
forgot-email = L’adresse e-mail de votre compte
forgot-submit = Envoyer un code de réinitialisation
reset-title = Choisir un nouveau mot de passe
reset-sent = Si un compte a cette adresse, un code est en route vers elle.
reset-email = Adresse e-mail
reset-code = Code reçu par e-mail
reset-new-password = Nouveau mot de passe
reset-submit = Enregistrer le nouveau mot de passe

## La page du compte

account-title = Votre compte
account-username = Nom d’utilisateur
account-email = E-mail
account-not-verified = (non vérifiée)
account-two-step = Connexion en deux étapes
account-two-step-on = activée (application d’authentification)
account-two-step-off = désactivée
account-sign-out = Se déconnecter
account-sessions = Sessions
account-session-line = Connecté le { $when } par { $method }
account-this-browser = ce navigateur
account-end-session = Déconnecter la session du { $when }
account-authenticator = Application d’authentification
account-totp-disable-label = Un code actuel, pour désactiver la connexion en deux étapes
account-totp-disable = Désactiver
account-totp-pitch = Demander un code d’une application d’authentification à chaque connexion par mot de passe.
account-totp-enroll = Configurer une application d’authentification
account-password = Mot de passe
account-set-password = Définir un mot de passe
account-set-password-why = Vous vous connectez avec un code par e-mail. Avec un mot de passe, vous pouvez vous en passer.
account-current-password = Mot de passe actuel
account-new-password = Nouveau mot de passe
account-password-only = Mot de passe
account-change-password = Changer le mot de passe
account-set-password-submit = Définir le mot de passe
account-app-prefix = { $app } :

method-passkey = clé d’accès
method-password = mot de passe
method-code = code par e-mail
method-unknown = méthode inconnue
method-with-second = { $method } + application d’authentification ou code de secours

done-reset = Votre mot de passe a été réinitialisé et toutes les sessions déconnectées. Connectez-vous avec le nouveau.
done-password = Votre mot de passe a été changé. Toutes les autres sessions ont été déconnectées.
done-totp-off = La connexion en deux étapes est désactivée.
done-session = Cette session a été déconnectée.
done-passkey = Votre clé d’accès a été ajoutée.
done-passkey-renamed = La clé d’accès a été renommée.
done-passkey-removed = La clé d’accès a été supprimée.
done-signup = Votre compte est prêt, avec le mot de passe que vous avez choisi.
done-signup-existing = Cette adresse avait déjà un compte : vous y êtes connecté. Son mot de passe n’a pas été changé.
done-signup-no-password = Votre compte est prêt. Son mot de passe n’a pas pu être défini : définissez-en un ci-dessous.

## Clés d’accès

passkeys-title = Clés d’accès
passkeys-pitch = Connectez-vous avec votre empreinte, votre visage ou le verrouillage de l’écran au lieu d’un mot de passe.
passkeys-added = ajoutée le { $when }
passkeys-last-used = utilisée pour la dernière fois le { $when }
passkeys-new-name = Nouveau nom pour la clé d’accès { $name }
passkeys-rename = Renommer
passkeys-remove-label = Supprimer la clé d’accès { $name }
passkeys-remove = Supprimer
passkeys-name-label = Nom de la nouvelle clé d’accès (facultatif)
passkeys-name-example = p. ex. ordinateur du travail
passkeys-add = Ajouter une clé d’accès
passkeys-needs-script = Ajouter une clé d’accès nécessite JavaScript.
passkeys-refused = Le serveur a refusé la clé d’accès.
passkeys-fresh-sign-in = Pour votre sécurité, ajouter une clé d’accès demande une connexion récente : déconnectez-vous, reconnectez-vous, puis ajoutez-la.

## Configurer une application d’authentification

totp-title = Configurer une application d’authentification
totp-scan = Scannez ceci avec votre application d’authentification, ou saisissez-y la clé.
totp-open = Ouvrir dans une application d’authentification
totp-key = Clé
totp-qr = Code QR de la clé
totp-code = Le code que l’application affiche maintenant
totp-submit = Activer
totp-on-title = La connexion en deux étapes est activée
totp-recovery = Gardez ces codes de secours en lieu sûr. Chacun sert une fois, à la place d’un code de l’application. Ils ne seront plus affichés.
totp-done = Terminé

## Applications (OpenID Connect)

consent-title = Autoriser { $app } ?
consent-intro = { $app } souhaite vous connecter en tant que { $who }. L’application pourra :
consent-sub = savoir qui vous êtes (l’identifiant de votre compte)
consent-email = voir votre adresse e-mail
consent-profile = voir votre nom et votre nom d’utilisateur
consent-groups = voir de quels groupes vous faites partie
consent-offline = rester connectée en votre absence
consent-allow = Autoriser
consent-deny = Refuser
logout-title = Se déconnecter ?
logout-ask = { $app } demande à vous déconnecter de ce serveur.
logout-an-app = Une application
logout-submit = Se déconnecter
back-title = Retour à l’application
back-taking = Retour vers { $app }.
back-continue = Continuer
oidc-unreadable = La demande de connexion de l’application est illisible (un paramètre en double ?).
oidc-invalid = La demande de connexion de l’application ne peut pas aboutir : { $detail }
oidc-logout-unreadable = La demande de déconnexion est illisible.
oidc-logout-unknown = La demande de déconnexion de l’application désigne une connexion que ce serveur n’a pas faite.
oidc-logout-contradicts = La demande de déconnexion se contredit.
oidc-logout-unregistered = L’application veut vous envoyer vers une adresse qu’elle n’a pas enregistrée pour la déconnexion.

## Quand quelque chose ne va pas

trouble-title = Quelque chose ne va pas
trouble-go-sign-in = Aller à la connexion
no-such-page = Cette page n’existe pas.
form-unreadable = Le formulaire est illisible. Rouvrez la page et envoyez-le depuis celle-ci.
form-other-site = Ce formulaire vient d’un autre site, ou sa page est trop ancienne. Rouvrez la page et envoyez le formulaire depuis celle-ci.
request-other-site = Cette demande vient d’un autre site.
request-unreadable = La demande est illisible.
error-wait = Trop de tentatives. Réessayez dans { $minutes ->
    [one] { $minutes } minute
   *[other] { $minutes } minutes
}.
error-credentials = Nom d’utilisateur ou mot de passe incorrect.
error-disabled = Ce compte est désactivé.
error-blocked = Ce compte est bloqué.
error-unverified = Ce compte n’est pas encore activé.
error-mfa-code = Ce code est faux, ou a déjà servi.
error-code = Ce code est faux, expiré ou a déjà servi.
error-mfa-pending = La connexion a pris trop de temps, ou le compte a changé entre-temps. Recommencez.
error-weak-password = Ce mot de passe est trop faible : prenez-en un plus long, qui ne soit ni courant ni votre nom.
error-current-password = Le mot de passe actuel est incorrect.
error-email = Cette adresse e-mail ne peut pas être utilisée.
error-mail = Impossible d’envoyer des e-mails pour le moment. Réessayez dans un petit moment.
error-done-already = C’est déjà fait (dans une autre fenêtre ?).
error-busy = Le serveur est occupé. Réessayez dans un instant.
error-signed-out = Vous êtes déconnecté. Reconnectez-vous.
error-passkey = Cette clé d’accès n’a pas fonctionné ici (ou la page est trop ancienne). Réessayez.
error-passkey-unknown = Cette clé d’accès n’est pas sur ce compte (supprimée dans une autre fenêtre ?).
error-last-method = C’est le seul moyen restant d’accéder à ce compte : ajoutez-en d’abord un autre (un mot de passe, une clé d’accès).
error-internal = Un problème est survenu de notre côté.

## E-mails

mail-code-subject = Votre { $what } { $issuer } : { $code }
mail-code-intro = Votre { $what } est :
mail-code-intro-html = Votre { $what } :
mail-code-expires = Il expire dans { $minutes ->
    [one] { $minutes } minute
   *[other] { $minutes } minutes
} et sert une seule fois.
mail-what-sign-in = code de connexion
mail-what-verify = code de vérification d’e-mail
mail-what-reset = code de réinitialisation du mot de passe
mail-what-change = code de confirmation de votre nouvelle adresse e-mail
mail-unasked-sign-in = Si vous n’avez pas demandé à vous connecter, ignorez ce message : personne ne peut se connecter sans le code.
mail-unasked-verify = Si vous n’avez pas demandé à vérifier cette adresse, ignorez ce message.
mail-unasked-reset = Si vous n’avez pas demandé à réinitialiser votre mot de passe, ignorez ce message : votre mot de passe reste tel quel.
mail-unasked-change = Si vous n’avez pas demandé à transférer votre compte vers cette adresse, ignorez ce message.
mail-reset-none-subject = Réinitialisation du mot de passe sur { $issuer }
mail-reset-none = Quelqu’un a demandé à réinitialiser le mot de passe d’un compte { $issuer } avec cette adresse, mais aucun compte ne lui correspond.
mail-wrong-address = Si c’était vous, utilisez l’adresse avec laquelle vous vous êtes inscrit. Sinon, ignorez ce message.
mail-change-notice-subject = Votre adresse e-mail { $issuer } est en cours de changement
mail-change-notice = Quelqu’un connecté à votre compte { $issuer } a demandé à le transférer vers { $new }. Le transfert a lieu dès qu’un code envoyé à cette adresse est saisi ; d’ici là, cette adresse reste celle de connexion.
mail-change-notice-advice = Si ce n’était pas vous, changez votre mot de passe maintenant et déconnectez vos autres sessions.
mail-no-account-subject = Tentative de connexion sur { $issuer }
mail-no-account = Quelqu’un a demandé à se connecter à { $issuer } avec cette adresse, mais aucun compte ne lui correspond.

## Applications derrière le proxy (règles d’accès)

stepup-title = Encore une étape
stepup-why = Cette application demande un second facteur. Saisissez un code de votre application d’authentification.
stepup-passkey = Cette application demande un second facteur : connectez-vous avec l’une de vos clés d’accès.
stepup-none = Cette application demande un second facteur, et votre compte n’en a pas. Configurez une application d’authentification sur la page de votre compte, puis revenez.
stepup-setup = Aller à votre compte
refused-title = Pas pour ce compte
refused-text = { $who } ne peut pas utiliser { $app }.
refused-sign-out = Se déconnecter, pour se connecter avec un autre compte
login-with = Se connecter avec { $name }
method-upstream = un autre fournisseur
upstream-title = Autres fournisseurs
upstream-pitch = Connectez-vous avec un compte que vous avez déjà ailleurs.
upstream-linked-on = lié le { $when }
upstream-unlink = Délier
upstream-unlink-label = Délier { $name }
upstream-link = Lier { $name }
done-upstream-linked = Le compte est lié : vous pouvez vous connecter avec.
done-upstream-unlinked = Le compte a été délié.
upstream-failed = La connexion avec { $name } n’a pas abouti. Réessayez, ou connectez-vous autrement.
upstream-link-from-account = Un compte ici a cette adresse e-mail. Connectez-vous comme d’habitude, puis liez { $name } depuis la page de votre compte.
upstream-no-account = Aucun compte ici n’appartient à ce compte { $name }.
upstream-linked-elsewhere = Ce compte { $name } est lié à un autre compte ici.
account-recent = Connexions récentes
account-from = depuis { $ip }
door-portal = sur ces pages
door-oidc = par une application (OpenID Connect)
door-passkey = avec une clé d’accès
door-upstream = avec un autre fournisseur
door-admin = par un administrateur
door-app = par une application
door-unknown = moyen inconnu
admin-nav = Administration
admin-users = Comptes
admin-groups = Groupes
admin-audit = Journal
admin-back = Votre compte
admin-not-allowed = Ces pages sont réservées aux administrateurs.
admin-not-found = Aucun compte ni groupe de ce nom.
admin-failed = Cela n’a pas abouti ; le journal du serveur dit pourquoi.
admin-bad-group = Un nom de groupe compte 1 à 64 caractères parmi a-z, 0-9, _ et -.
admin-group-exists = Un groupe de ce nom existe déjà.
admin-search = E-mail, nom d’utilisateur ou identifiant
admin-search-submit = Chercher
admin-new-user = Nouveau compte
admin-email = E-mail
admin-username = Nom d’utilisateur
admin-username-optional = Nom d’utilisateur (facultatif)
admin-state = État
admin-none = Aucun.
admin-next = Page suivante
admin-new-user-hint = Le nouveau compte reçoit par e-mail un code pour choisir un mot de passe.
admin-create = Créer
admin-second-factor = Second facteur
admin-linked = Fournisseurs liés
admin-enable = Activer
admin-disable = Désactiver
admin-block = Bloquer
admin-unblock = Débloquer
admin-reset-mfa = Réinitialiser le second facteur
admin-sign-out = Déconnecter partout
admin-delete = Supprimer
admin-cancel = Annuler
admin-delete-confirm = Supprimer { $who } définitivement ? Toutes les sessions prennent fin ; c’est irréversible.
admin-session-since = depuis le
admin-session-used = dernière utilisation le
admin-recent-events = Événements récents
admin-all-events = Tous les événements de ce compte
admin-group = Groupe
admin-members = Membres
admin-description = Description
admin-new-group = Nouveau groupe
admin-group-title = Groupe { $name }
admin-remove = Retirer
admin-remove-member = Retirer { $who }
admin-add-member = Ajouter un membre
admin-member-key = E-mail, nom d’utilisateur ou identifiant
admin-add = Ajouter
admin-delete-group = Supprimer ce groupe
admin-delete-group-confirm = Oui, le supprimer avec toutes ses adhésions
admin-filter-user = Compte
admin-filter-event = Événement
admin-filter-since = Depuis (RFC 3339)
admin-when = Quand
admin-event = Événement
admin-who = Compte
admin-actor = Par
admin-door = Accès
admin-address = Adresse
admin-done-created = Le compte a été créé ; un code pour choisir un mot de passe lui a été envoyé.
admin-done-changed = C’est fait.
admin-done-deleted = Le compte a été supprimé.
admin-done-group-created = Le groupe a été créé.
admin-done-group-deleted = Le groupe a été supprimé.
admin-done-member-added = Le membre a été ajouté.
admin-done-member-removed = Le membre a été retiré.
