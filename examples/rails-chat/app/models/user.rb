class User < ApplicationRecord
  has_many :memberships
  has_many :chats, through: :memberships
  has_many :chat_sessions

  # this user's private push channel: every message of every chat of the user goes there
  def channel
    "private-user-#{id}"
  end

  # what the browser sends as juggernaut meta: presence counts the user once for all tabs
  def meta
    { user_id: id, name: name }
  end
end
