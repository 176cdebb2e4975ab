class ChatsController < ApplicationController
  def index
    current_chat_session # back after the cleanup closed the last one: a new session
    @groups = current_user.chats.where(kind: "Group")
  end

  # opens (creating it if needed) the one-to-one chat with another user
  def direct
    other = User.find(params[:user_id])
    chat = Chat.direct(current_user, other)
    render json: chat.as_json_for(current_user)
  end

  def show
    chat = current_user.chats.find(params[:id])
    render json: chat.as_json_for(current_user)
  end
end
